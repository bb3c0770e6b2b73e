package load

import (
	"context"
	"net"
	"sync"
	"time"
)

// NetConn holds a driver's current network connection and interrupts its
// I/O when the run's context is cancelled, so that a Do blocked on a slow
// target returns at once instead of at its timeout. Its zero value is
// ready. It belongs to one Conn: Get, Set, Take and Watch are called by
// the Conn's goroutine only; the abort runs on another.
type NetConn struct {
	// mu guards nc against abort. The owning goroutine reads nc without
	// the lock because it is the only writer.
	mu sync.Mutex
	nc net.Conn

	abortFn func()          // abort, bound once so that Watch does not allocate
	watched <-chan struct{} // Done channel of the context being watched
	stop    func() bool
}

// Get returns the current connection, nil when the next request must
// connect.
func (w *NetConn) Get() net.Conn { return w.nc }

// Set makes nc the current connection.
func (w *NetConn) Set(nc net.Conn) {
	w.mu.Lock()
	w.nc = nc
	w.mu.Unlock()
}

// Take detaches and returns the current connection (nil if none); the
// caller closes it.
func (w *NetConn) Take() net.Conn {
	w.mu.Lock()
	nc := w.nc
	w.nc = nil
	w.mu.Unlock()
	return nc
}

// Watch arranges for the connection's I/O to be interrupted when ctx is
// cancelled. The engine passes the same run context to every Do, so this
// registers once per run and the steady state only compares two channels.
func (w *NetConn) Watch(ctx context.Context) {
	done := ctx.Done()
	if done == w.watched {
		return
	}
	w.Unwatch()
	w.watched = done
	if done == nil {
		return
	}
	if w.abortFn == nil {
		w.abortFn = w.abort
	}
	w.stop = context.AfterFunc(ctx, w.abortFn)
}

// Unwatch stops watching the context given to Watch.
func (w *NetConn) Unwatch() {
	if w.stop != nil {
		w.stop()
		w.stop = nil
	}
	w.watched = nil
}

// abort sets a deadline in the past, which wakes a Do blocked on the
// network; it then reports the cancellation.
func (w *NetConn) abort() {
	w.mu.Lock()
	if w.nc != nil {
		w.nc.SetDeadline(time.Unix(1, 0))
	}
	w.mu.Unlock()
}
