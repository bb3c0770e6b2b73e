package target

import (
	"testing"
	"time"
)

// queued returns how many sleepers the clock holds.
func (c *delayClock) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.q)
}

// TestClockTimerfd: on Linux the clock has a timerfd, and a cancelled
// sleep leaves nothing behind in its queue.
func TestClockTimerfd(t *testing.T) {
	c := startClock(t)
	if c.f == nil || c.off {
		t.Fatal("no timerfd")
	}
	cancel := make(chan struct{})
	time.AfterFunc(5*time.Millisecond, func() { close(cancel) })
	if c.sleep(time.Minute, cancel, nil, nil) {
		t.Fatal("a one-minute sleep completed")
	}
	if n := c.queued(); n != 0 {
		t.Errorf("%d sleepers queued after a cancellation", n)
	}
}

// TestClockCancelAtDue cancels sleeps about when they fall due, so that the
// cancellation races the clock's wake-up: either way the sleeper must come
// out clean, not queued and with no wake-up token left to end its next
// sleep early.
func TestClockCancelAtDue(t *testing.T) {
	c := startClock(t)
	var sl sleeper
	const d = 100 * time.Microsecond
	for i := range 200 {
		cancel := make(chan struct{})
		timer := time.AfterFunc(d+time.Duration(i%20-10)*5*time.Microsecond, func() { close(cancel) })
		c.sleep(d, cancel, nil, &sl)
		timer.Stop()
		if sl.idx >= 0 || len(sl.c) != 0 {
			t.Fatalf("iteration %d: sleeper left at queue index %d with %d tokens", i, sl.idx, len(sl.c))
		}
	}
	if n := c.queued(); n != 0 {
		t.Errorf("%d sleepers queued", n)
	}
}

// TestClockFallback: a clock without a timerfd (none could be made) sleeps
// on Go timers: just as long, and just as cancellable.
func TestClockFallback(t *testing.T) {
	c := &delayClock{off: true}
	start := time.Now()
	if !c.sleep(2*time.Millisecond, nil, nil, nil) {
		t.Error("sleep reported a cancellation")
	}
	if el := time.Since(start); el < 2*time.Millisecond {
		t.Errorf("2ms sleep took %v", el)
	}
	done := make(chan struct{})
	time.AfterFunc(5*time.Millisecond, func() { close(done) })
	if c.sleep(time.Minute, nil, done, nil) {
		t.Error("a one-minute sleep completed")
	}
	c.close() // nothing to release
}
