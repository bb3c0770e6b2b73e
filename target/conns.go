package target

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
)

// connSet tracks the open connections of every listener, so that
// CloseConnections and Close can cut them, a gRPC handler can find the
// connection it should reset, and the watchdog can time them out.
type connSet struct {
	mu       sync.Mutex
	m        map[*watchedConn]struct{}
	closed   bool // after Close: new connections are refused
	max      int  // 0: no limit
	clock    *coarseClock
	evicted  atomic.Uint64
	refused  atomic.Uint64
	accepted atomic.Uint64
}

func newConnSet(maxConns int, clock *coarseClock) *connSet {
	return &connSet{m: make(map[*watchedConn]struct{}), max: maxConns, clock: clock}
}

// admit registers c in phase p and returns it as watched, or nil when the
// server is closing or full (c is then closed). At the limit it makes room
// by closing the connection that has waited longest for its client to
// start or finish a request head: slow or idle clients cannot keep a new
// one out, and none of them loses a request in progress.
func (s *connSet) admit(c net.Conn, p phase) *watchedConn {
	wc := &watchedConn{Conn: c, set: s, clock: s.clock}
	wc.setPhase(p)
	var victim *watchedConn
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close()
		return nil
	}
	if s.max > 0 && len(s.m) >= s.max {
		var oldest int64
		for o := range s.m {
			if o.evictable() {
				if t := o.since.Load(); victim == nil || t < oldest {
					victim, oldest = o, t
				}
			}
		}
		if victim == nil {
			s.mu.Unlock()
			s.refused.Add(1)
			c.Close()
			return nil
		}
		// Out of the count now: its goroutine may take a moment to end.
		delete(s.m, victim)
	}
	s.m[wc] = struct{}{}
	s.mu.Unlock()
	s.accepted.Add(1)
	if victim != nil {
		s.evicted.Add(1)
		victim.cutOff()
	}
	return wc
}

func (s *connSet) remove(c *watchedConn) {
	s.mu.Lock()
	delete(s.m, c)
	s.mu.Unlock()
}

func (s *connSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// closeAll closes every connection but except (which may be nil): the
// control request that asked for it still has a response to send. It
// returns how many it closed.
func (s *connSet) closeAll(except net.Conn) int {
	s.mu.Lock()
	list := make([]*watchedConn, 0, len(s.m))
	for c := range s.m {
		if net.Conn(c) != except {
			list = append(list, c)
		}
	}
	s.mu.Unlock()
	for _, c := range list {
		c.Conn.Close()
	}
	return len(list)
}

// shut closes every connection and refuses new ones.
func (s *connSet) shut() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.closeAll(nil)
}

// find returns the connection with these local and remote addresses.
func (s *connSet) find(local, remote string) net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.m {
		if c.RemoteAddr().String() == remote && c.LocalAddr().String() == local {
			return c
		}
	}
	return nil
}

// resetConn closes c so that the peer sees a TCP reset (RST) rather than an
// orderly FIN: SO_LINGER 0 discards unsent data and aborts the connection.
func resetConn(c net.Conn) {
	raw := c
	for {
		switch v := raw.(type) {
		case *tls.Conn:
			raw = v.NetConn()
			continue
		case interface{ unwrap() net.Conn }:
			raw = v.unwrap()
			continue
		}
		break
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
	if raw != c {
		raw.Close()
	}
}

// trackedListener admits accepted connections into a connSet; it wraps
// the gRPC listener, whose connections are otherwise out of reach.
type trackedListener struct {
	net.Listener
	set *connSet
}

func (l *trackedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if wc := l.set.admit(c, phaseMux); wc != nil {
			return wc, nil
		}
		if l.set.isClosed() {
			return nil, net.ErrClosed
		}
		// Full and nothing to evict: the connection was refused; serve on.
	}
}

func (s *connSet) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
