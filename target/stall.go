package target

import (
	"sync"
	"sync/atomic"
	"time"
)

// stallGate holds every response back until a deadline (the stall fault).
// Checking an open gate is one atomic load, so the hot path pays nothing.
type stallGate struct {
	until atomic.Int64 // UnixNano of the end of the stall; 0: none

	mu   sync.Mutex
	wake chan struct{} // closed and replaced whenever the stall changes
}

func newStallGate() *stallGate { return &stallGate{wake: make(chan struct{})} }

// set stalls responses for d from now, replacing any stall in progress;
// d <= 0 ends the stall.
func (g *stallGate) set(d time.Duration) {
	g.mu.Lock()
	if d <= 0 {
		g.until.Store(0)
	} else {
		g.until.Store(time.Now().Add(d).UnixNano())
	}
	close(g.wake)
	g.wake = make(chan struct{})
	g.mu.Unlock()
}

// deadline returns the end of the current stall, or the zero time.
func (g *stallGate) deadline() time.Time {
	u := g.until.Load()
	if u == 0 || time.Now().UnixNano() >= u {
		return time.Time{}
	}
	return time.Unix(0, u)
}

// wait blocks while a stall is in force. It returns false when cancel or
// done closes first. t is a stopped timer the caller may reuse (nil makes
// one when needed).
func (g *stallGate) wait(cancel, done <-chan struct{}, t *time.Timer) bool {
	if g.until.Load() == 0 {
		return true
	}
	for {
		g.mu.Lock()
		ch, u := g.wake, g.until.Load()
		g.mu.Unlock()
		left := time.Duration(u - time.Now().UnixNano())
		if u == 0 || left <= 0 {
			return true
		}
		if t == nil {
			t = time.NewTimer(left)
			defer t.Stop()
		} else {
			t.Reset(left)
		}
		select {
		case <-t.C:
			return true
		case <-ch: // the stall changed: look again
			t.Stop()
		case <-cancel:
			t.Stop()
			return false
		case <-done:
			t.Stop()
			return false
		}
	}
}

// sleep waits for d on a Go timer, or until cancel or done closes (false).
// t is a stopped timer the caller may reuse; nil makes one. It is for
// back-offs, which need no precision; response delays use the server's
// delayClock.
func sleep(d time.Duration, cancel, done <-chan struct{}, t *time.Timer) bool {
	if d <= 0 {
		return true
	}
	if t == nil {
		t = time.NewTimer(d)
		defer t.Stop()
	} else {
		t.Reset(d)
	}
	select {
	case <-t.C:
		return true
	case <-cancel:
	case <-done:
	}
	t.Stop()
	return false
}
