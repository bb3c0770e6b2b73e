package target

import (
	"net"
	"time"
)

// tcpBufSize is the most a TCP echo reads, and so echoes, at once.
const tcpBufSize = 32 << 10

// serveTCP echoes what a connection sends. Each read is one "request": it
// is admitted, delayed and stalled like any other, and an injected error is
// always a reset, since TCP has no status to answer with. A rejection
// resets the connection too.
func (s *Server) serveTCP(c net.Conn) {
	buf := make([]byte, tcpBufSize)
	t := time.NewTimer(time.Hour) // for stalls
	t.Stop()
	defer t.Stop()
	var sl sleeper // for delays
	for {
		n, err := c.Read(buf)
		if n > 0 {
			s.gaps[listenTCP].arrive()
			if s.adm != nil && !s.adm.acquire(nil, s.done) {
				s.counters.rejected[protoTCP].Add(1)
				resetConn(c)
				return
			}
			s.counters.inFlight.Add(1)
			ok := s.echoTCP(c, buf[:n], &sl, t)
			s.counters.inFlight.Add(-1)
			if s.adm != nil {
				s.adm.release()
			}
			if !ok {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (s *Server) echoTCP(c net.Conn, msg []byte, sl *sleeper, t *time.Timer) bool {
	b := &s.defaults.Load().b
	o := b.draw()
	if !s.clock.sleep(o.delay, nil, s.done, sl) || !s.stall.wait(nil, s.done, t) {
		return false
	}
	if o.fail {
		s.counters.resets[protoTCP].Add(1)
		resetConn(c)
		return false
	}
	// Counted before the write, as HTTP responses are: a client that has
	// read its echo finds it counted.
	s.counters.count(protoTCP, 0)
	_, err := c.Write(msg)
	return err == nil
}
