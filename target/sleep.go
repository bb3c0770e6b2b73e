package target

import (
	"sync"
	"time"
)

// Response delays are waited out on the server's delayClock rather than on
// Go timers, because Go timers are only as fine as the scheduler's idle
// poll, which sleeps in whole milliseconds. Measured on loopback with an
// otherwise idle process, a 1.2 ms delay was answered after 2.2 ms and a
// 6 ms delay after 6.2 ms, so that 1.0 ms against 1.2 ms read +100%
// instead of +20%. On Linux the delayClock fires a timerfd watched by the
// netpoller (sleep_linux.go): the same delays took 1.25 and 6.1 ms, and a
// sleep wakes 35 µs late at the median (a bare timerfd: 30 µs, the VM's
// wake-up from idle). Elsewhere it falls back to Go timers
// (sleep_other.go).
//
// Precision has a CPU price that no implementation avoids: Go timers wake
// once a millisecond for every request due by then, precise ones once per
// request. At 12,500 delayed requests a second over 64 connections the
// process (target and client) spent about 28 µs of CPU per request
// instead of 17; the delayClock's own share, measured by rounding its due
// times up to the millisecond, is about 1 µs.

// sleeper is what one waiting request needs: reusable, so that a
// connection serving delayed requests one after another allocates once.
// The zero sleeper is ready for use; a sleeper serves one wait at a time.
type sleeper struct {
	clockWait // what the delayClock keeps of a waiting sleeper
	// t is the fallback when there is no timerfd.
	t *time.Timer
}

// sleepTimer waits for d on a Go timer, or until cancel or done closes
// (false).
func (sl *sleeper) sleepTimer(d time.Duration, cancel, done <-chan struct{}) bool {
	if d <= 0 {
		return true
	}
	if sl.t == nil {
		sl.t = time.NewTimer(d)
	} else {
		sl.t.Reset(d)
	}
	select {
	case <-sl.t.C:
		return true
	case <-cancel:
	case <-done:
	}
	sl.t.Stop()
	return false
}

// sleeperPool lends sleepers to requests that have none of their own
// (HTTP/2, gRPC, UDP), so that their delays do not allocate either.
type sleeperPool struct{ p sync.Pool }

func (p *sleeperPool) get() *sleeper {
	if sl, ok := p.p.Get().(*sleeper); ok {
		return sl
	}
	return new(sleeper)
}

func (p *sleeperPool) put(sl *sleeper) { p.p.Put(sl) }

// sleep waits for d, or until cancel or done closes (false). sl is the
// caller's reusable sleeper, or nil to borrow one. A d <= 0 returns at once
// and touches nothing, so the no-delay path costs nothing.
func (c *delayClock) sleep(d time.Duration, cancel, done <-chan struct{}, sl *sleeper) bool {
	if d <= 0 {
		return true
	}
	if sl == nil {
		sl = c.pool.get()
		defer c.pool.put(sl)
	}
	return c.wait(d, cancel, done, sl)
}
