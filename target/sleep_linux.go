package target

import (
	"container/heap"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// delayClock wakes sleeping requests at their due times, to a few tens of
// microseconds. One timerfd per server, armed at the earliest due time of
// a queue of sleepers, is watched by the netpoller like a socket, so it
// fires at the kernel's high-resolution timer even when the scheduler's
// own timers would wait for the next millisecond (load/sleep_linux.go
// makes the same choice for the load engine's pacing). One shared timerfd
// rather than one per request: it costs a single file descriptor however
// many requests wait, sleeps allocate nothing, and a sleeper waits in a
// select, so a cancelled request or a closing server ends its delay at
// once. The price is a hand-off through one goroutine, a few microseconds.
//
// If no timerfd can be made (no file descriptors left), if it fails, or
// once the server closes, sleeps fall back to Go timers.
type delayClock struct {
	pool sleeperPool

	f       *os.File      // the timerfd; nil without one
	fd      int           // its descriptor (f.Fd would make it blocking)
	stopped chan struct{} // closed when run returns

	// The timeline: t0 and mono0 are the same instant in Go's time and in
	// CLOCK_MONOTONIC, the timerfd's clock, so that now costs a vDSO read
	// (time.Since) rather than a system call.
	t0    time.Time
	mono0 int64

	mu    sync.Mutex
	q     sleeperQueue // by due time
	armed int64        // due time the timerfd is armed for; 0: disarmed
	spec  unix.ItimerSpec
	// off sends sleeps to Go timers: no timerfd, or it failed or is
	// closed. The raw descriptor is only used under mu while !off, so that
	// a closed descriptor number, perhaps reused, is never touched.
	off bool
}

// clockWait is what the delayClock keeps of a waiting sleeper.
type clockWait struct {
	// c receives when the clock finds the sleeper due; it holds that one
	// token so that the clock never blocks on a sleeper.
	c chan struct{}
	// due is the wake-up time on the clock's timeline, idx the position in
	// its queue or -1 once taken out; both are guarded by the clock's mu.
	due int64
	idx int
}

func newDelayClock() *delayClock {
	c := &delayClock{off: true}
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return c
	}
	// A non-blocking descriptor makes os.NewFile register it with the
	// netpoller, so that run's Read parks a goroutine, not a thread.
	c.fd, c.f = fd, os.NewFile(uintptr(fd), "timerfd")
	// Go's time first: the clocks' offset then errs towards firing late,
	// never early.
	c.t0 = time.Now()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		c.f.Close()
		c.f = nil
		return c
	}
	c.mono0 = ts.Nano()
	c.off = false
	c.stopped = make(chan struct{})
	go c.run()
	return c
}

// now reads the clock's timeline.
func (c *delayClock) now() int64 { return c.mono0 + int64(time.Since(c.t0)) }

// wait sleeps sl for d > 0; see sleep.
func (c *delayClock) wait(d time.Duration, cancel, done <-chan struct{}, sl *sleeper) bool {
	due := c.now() + int64(d)
	c.mu.Lock()
	if c.off {
		c.mu.Unlock()
		return sl.sleepTimer(d, cancel, done)
	}
	if sl.c == nil {
		sl.c = make(chan struct{}, 1)
	}
	sl.due = due
	heap.Push(&c.q, sl)
	// Arm only for a new earliest due time. If the armed time has fired
	// already, it is before due and nothing is armed here: run, about to
	// take the due sleepers out, then arms for the rest of the queue.
	if sl.idx == 0 && (c.armed == 0 || due < c.armed) {
		c.armLocked(due)
	}
	c.mu.Unlock()
	select {
	case <-sl.c:
		// A clock that failed wakes its sleepers early: finish on a timer.
		if left := time.Duration(sl.due - c.now()); left > 0 {
			return sl.sleepTimer(left, cancel, done)
		}
		return true
	case <-cancel:
	case <-done:
	}
	c.mu.Lock()
	if sl.idx >= 0 {
		heap.Remove(&c.q, sl.idx)
	} else {
		<-sl.c // taken out and signalled under mu: drain for the next wait
	}
	c.mu.Unlock()
	return false
}

// run wakes the due sleepers each time the timerfd fires, until the
// timerfd is closed.
func (c *delayClock) run() {
	defer close(c.stopped)
	buf := make([]byte, 8) // the number of expirations: not needed
	for {
		// Read tries the descriptor before it parks, a system call that
		// usually fails with EAGAIN; skipping it loses wake-ups, since the
		// netpoller's readiness is reset before the try and the timer may
		// have fired in between.
		_, err := c.f.Read(buf)
		c.mu.Lock()
		if err != nil {
			c.failLocked()
			c.mu.Unlock()
			return
		}
		now := c.now()
		for len(c.q) > 0 && c.q[0].due <= now {
			sl := heap.Pop(&c.q).(*sleeper)
			sl.c <- struct{}{}
		}
		// The timer has fired, whatever armed still says: arm it for the
		// next sleeper. An empty queue needs no disarming, a one-shot
		// timer that has fired is disarmed already.
		c.armed = 0
		if len(c.q) > 0 {
			c.armLocked(c.q[0].due)
		}
		c.mu.Unlock()
	}
}

// armLocked sets the timerfd to fire at due, or disarms it for 0.
func (c *delayClock) armLocked(due int64) {
	if c.off {
		return
	}
	c.spec.Value = unix.NsecToTimespec(due)
	if err := unix.TimerfdSettime(c.fd, unix.TFD_TIMER_ABSTIME, &c.spec, nil); err != nil {
		c.failLocked()
		return
	}
	c.armed = due
}

// failLocked turns the clock off and wakes every sleeper, which finishes
// its delay on a Go timer.
func (c *delayClock) failLocked() {
	c.off = true
	for len(c.q) > 0 {
		sl := heap.Pop(&c.q).(*sleeper)
		sl.c <- struct{}{}
	}
}

// close releases the timerfd; later sleeps use Go timers.
func (c *delayClock) close() {
	if c.f == nil {
		return
	}
	c.mu.Lock()
	c.failLocked()
	c.mu.Unlock()
	// Outside mu: Close waits for run's Read to return, and run then
	// takes mu.
	c.f.Close()
	<-c.stopped
}

// sleeperQueue is a min-heap of sleepers by due time (container/heap).
type sleeperQueue []*sleeper

func (q sleeperQueue) Len() int           { return len(q) }
func (q sleeperQueue) Less(i, j int) bool { return q[i].due < q[j].due }
func (q sleeperQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].idx, q[j].idx = i, j
}

func (q *sleeperQueue) Push(x any) {
	sl := x.(*sleeper)
	sl.idx = len(*q)
	*q = append(*q, sl)
}

func (q *sleeperQueue) Pop() any {
	old := *q
	n := len(old) - 1
	sl := old[n]
	old[n] = nil // no reference kept to a pooled sleeper
	sl.idx = -1
	*q = old[:n]
	return sl
}
