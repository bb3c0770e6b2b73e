package target

import (
	"sync"
	"testing"
	"time"
)

// startClock makes a delayClock for one test and closes it at the end.
func startClock(t *testing.T) *delayClock {
	t.Helper()
	c := newDelayClock()
	t.Cleanup(c.close)
	return c
}

// TestSleepZero: a delay of zero or less returns at once, even when the
// request is already cancelled, and allocates nothing; that is the
// no-delay path of every request.
func TestSleepZero(t *testing.T) {
	c := startClock(t)
	closed := make(chan struct{})
	close(closed)
	var sl sleeper
	for _, d := range []time.Duration{0, -1, -time.Hour} {
		for _, s := range []*sleeper{nil, &sl} {
			if !c.sleep(d, closed, closed, s) {
				t.Errorf("sleep(%v) reported a cancellation", d)
			}
		}
	}
	if sl != (sleeper{}) {
		t.Error("a zero delay set the sleeper up")
	}
	if n := testing.AllocsPerRun(100, func() { c.sleep(0, nil, nil, nil) }); n != 0 {
		t.Errorf("%.1f allocations per zero delay", n)
	}
}

// TestSleepDuration: sleeps never end early, whether or not they bring a
// sleeper, and a sleeper can be used again and again.
func TestSleepDuration(t *testing.T) {
	c := startClock(t)
	var sl sleeper
	for _, d := range []time.Duration{time.Microsecond, 300 * time.Microsecond, 2 * time.Millisecond} {
		for _, s := range []*sleeper{nil, &sl} {
			start := time.Now()
			if !c.sleep(d, nil, nil, s) {
				t.Fatalf("sleep(%v) reported a cancellation", d)
			}
			if el := time.Since(start); el < d || el > d+time.Second {
				t.Errorf("sleep(%v) took %v", d, el)
			}
		}
	}
}

// TestSleepCancel: closing cancel or done ends a sleep at once with false,
// and the sleeper is then as good as new.
func TestSleepCancel(t *testing.T) {
	c := startClock(t)
	var sl sleeper
	for _, which := range []string{"cancel", "done"} {
		cancel, done := make(chan struct{}), make(chan struct{})
		stop := cancel
		if which == "done" {
			stop = done
		}
		timer := time.AfterFunc(10*time.Millisecond, func() { close(stop) })
		start := time.Now()
		if c.sleep(time.Minute, cancel, done, &sl) {
			t.Errorf("%s: a one-minute sleep completed", which)
		}
		timer.Stop()
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("%s: sleep ended %v after it started, want about 10ms", which, el)
		}
		start = time.Now()
		if !c.sleep(time.Millisecond, nil, nil, &sl) {
			t.Errorf("%s: sleep after the cancelled one reported a cancellation", which)
		}
		if el := time.Since(start); el < time.Millisecond {
			t.Errorf("%s: a 1ms sleep after the cancelled one took %v", which, el)
		}
	}
}

// TestSleepConcurrent: many requests sleeping at once, with delays in any
// order, each wake at or after their own due time.
func TestSleepConcurrent(t *testing.T) {
	c := startClock(t)
	const n = 64
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Delays from 0.1 ms to 6.4 ms, started in an order unlike
			// their due times.
			d := time.Duration((i*37)%n+1) * 100 * time.Microsecond
			var sl sleeper
			for range 5 {
				start := time.Now()
				if !c.sleep(d, nil, nil, &sl) {
					t.Errorf("sleep(%v) reported a cancellation", d)
					return
				}
				if el := time.Since(start); el < d || el > d+2*time.Second {
					t.Errorf("sleep(%v) took %v", d, el)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestSleepClosedClock: after close, and on a clock that is waited on as
// it closes, sleeps still last their delay (on Go timers) and still end on
// cancel.
func TestSleepClosedClock(t *testing.T) {
	c := newDelayClock()
	woke := make(chan time.Duration)
	go func() {
		start := time.Now()
		c.sleep(200*time.Millisecond, nil, nil, nil)
		woke <- time.Since(start)
	}()
	time.Sleep(20 * time.Millisecond) // let it wait on the clock
	c.close()
	if el := <-woke; el < 200*time.Millisecond {
		t.Errorf("sleep waiting as the clock closed took %v, want 200ms", el)
	}
	start := time.Now()
	if !c.sleep(2*time.Millisecond, nil, nil, nil) {
		t.Error("sleep on a closed clock reported a cancellation")
	}
	if el := time.Since(start); el < 2*time.Millisecond {
		t.Errorf("2ms sleep on a closed clock took %v", el)
	}
	cancel := make(chan struct{})
	close(cancel)
	if c.sleep(time.Minute, cancel, nil, nil) {
		t.Error("cancelled sleep on a closed clock completed")
	}
}

// TestSleepAllocs: a delayed request allocates nothing, with its own
// sleeper (HTTP/1.1, TCP) or a borrowed one (HTTP/2, gRPC, UDP), once
// warm.
func TestSleepAllocs(t *testing.T) {
	c := startClock(t)
	var sl sleeper
	c.sleep(time.Microsecond, nil, nil, &sl)
	if n := testing.AllocsPerRun(50, func() { c.sleep(10*time.Microsecond, nil, nil, &sl) }); n != 0 {
		t.Errorf("own sleeper: %.1f allocations per delay", n)
	}
	// The pool may drop a sleeper at a garbage collection: allow a little.
	if n := testing.AllocsPerRun(50, func() { c.sleep(10*time.Microsecond, nil, nil, nil) }); n > 0.5 {
		t.Errorf("borrowed sleeper: %.1f allocations per delay", n)
	}
}
