package target

import (
	"crypto/tls"
	"net"
	"sync"
)

// connSet tracks the open connections of every listener, so that
// CloseConnections and Close can cut them and a gRPC handler can find the
// connection it should reset.
type connSet struct {
	mu     sync.Mutex
	m      map[net.Conn]struct{}
	closed bool // after Close: new connections are refused
}

func newConnSet() *connSet { return &connSet{m: make(map[net.Conn]struct{})} }

// add registers c; false means the server is closing and c must be closed.
func (s *connSet) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.m[c] = struct{}{}
	return true
}

func (s *connSet) remove(c net.Conn) {
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
	list := make([]net.Conn, 0, len(s.m))
	for c := range s.m {
		if c != except {
			list = append(list, c)
		}
	}
	s.mu.Unlock()
	for _, c := range list {
		c.Close()
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

// trackedListener registers accepted connections in a connSet and
// unregisters them when closed; it wraps the gRPC listener, whose
// connections are otherwise out of reach.
type trackedListener struct {
	net.Listener
	set *connSet
}

func (l *trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, set: l.set}
	if !l.set.add(tc) {
		c.Close()
		return nil, net.ErrClosed
	}
	return tc, nil
}

type trackedConn struct {
	net.Conn
	set  *connSet
	once sync.Once
}

func (c *trackedConn) unwrap() net.Conn { return c.Conn }

func (c *trackedConn) Close() error {
	c.once.Do(func() { c.set.remove(c) })
	return c.Conn.Close()
}
