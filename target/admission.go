package target

import (
	"sync"
	"sync/atomic"
	"time"
)

// admission enforces Config.Capacity (concurrent requests) and
// Config.MaxRPS (a token bucket) with a bounded FIFO queue in front: a
// request is admitted when both a slot and a token are free, waits in the
// queue while there is room, and is rejected at once otherwise. A server
// without limits has no admission at all, so the common path takes no lock.
type admission struct {
	mu       sync.Mutex
	capacity int     // 0: no concurrency limit
	rate     float64 // tokens per second; 0: no rate limit
	burst    float64
	tokens   float64
	last     time.Time // of the last refill
	queueMax int
	active   int
	queue    []*waiter
	timer    *time.Timer // wakes the queue when the next token is due
	armed    bool

	// Gauges read by the metrics without taking mu.
	inQueue atomic.Int64
}

type waiter struct {
	ready    chan struct{}
	admitted bool // under mu
}

func newAdmission(capacity int, rate float64, queue int) *admission {
	if capacity == 0 && rate == 0 {
		return nil
	}
	a := &admission{capacity: capacity, rate: rate, queueMax: queue}
	if rate > 0 {
		a.burst = max(1, rate/10)
		a.tokens = a.burst
		a.last = time.Now()
		a.timer = time.AfterFunc(time.Hour, a.wake)
		a.timer.Stop()
	}
	return a
}

// acquire admits a request, waiting in the queue if there is room; it
// returns false when the request is rejected or cancel closes while it
// waits. An admitted request must call release.
func (a *admission) acquire(cancel, done <-chan struct{}) bool {
	a.mu.Lock()
	if len(a.queue) == 0 && a.canTake(time.Now()) {
		a.take()
		a.mu.Unlock()
		return true
	}
	if len(a.queue) >= a.queueMax {
		a.mu.Unlock()
		return false
	}
	w := &waiter{ready: make(chan struct{})}
	a.queue = append(a.queue, w)
	a.inQueue.Store(int64(len(a.queue)))
	a.schedule(time.Now())
	a.mu.Unlock()

	select {
	case <-w.ready:
		return true
	case <-cancel:
	case <-done:
	}
	a.mu.Lock()
	if w.admitted {
		// Admitted just as we gave up: hand the slot on.
		a.mu.Unlock()
		a.release()
		return false
	}
	for i, q := range a.queue {
		if q == w {
			a.queue = append(a.queue[:i], a.queue[i+1:]...)
			break
		}
	}
	a.inQueue.Store(int64(len(a.queue)))
	a.mu.Unlock()
	return false
}

// release frees the slot of an admitted request and admits waiters.
func (a *admission) release() {
	a.mu.Lock()
	a.active--
	a.dispatch(time.Now())
	a.mu.Unlock()
}

func (a *admission) wake() {
	a.mu.Lock()
	a.armed = false
	a.dispatch(time.Now())
	a.mu.Unlock()
}

// canTake reports whether a request can start now; under mu.
func (a *admission) canTake(now time.Time) bool {
	if a.capacity > 0 && a.active >= a.capacity {
		return false
	}
	if a.rate > 0 {
		a.refill(now)
		return a.tokens >= 1
	}
	return true
}

func (a *admission) take() {
	a.active++
	if a.rate > 0 {
		a.tokens--
	}
}

func (a *admission) refill(now time.Time) {
	if el := now.Sub(a.last).Seconds(); el > 0 {
		a.tokens = min(a.burst, a.tokens+el*a.rate)
		a.last = now
	}
}

// dispatch admits queued requests in order while they can start; under mu.
func (a *admission) dispatch(now time.Time) {
	for len(a.queue) > 0 && a.canTake(now) {
		w := a.queue[0]
		a.queue[0] = nil
		a.queue = a.queue[1:]
		a.take()
		w.admitted = true
		close(w.ready)
	}
	a.inQueue.Store(int64(len(a.queue)))
	a.schedule(now)
}

// schedule arms the timer for the next token when the queue waits on the
// rate rather than on a slot (a release wakes those); under mu.
func (a *admission) schedule(now time.Time) {
	if a.rate == 0 || a.armed || len(a.queue) == 0 {
		return
	}
	if a.capacity > 0 && a.active >= a.capacity {
		return
	}
	a.refill(now)
	wait := time.Duration((1 - a.tokens) / a.rate * float64(time.Second))
	a.armed = true
	a.timer.Reset(max(wait, 0))
}

// queued returns the current queue length.
func (a *admission) queued() int64 {
	if a == nil {
		return 0
	}
	return a.inQueue.Load()
}
