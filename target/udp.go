package target

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"
)

const (
	udpBufSize = 64 << 10
	// maxUDPPending bounds the datagrams waiting out a delay; beyond it a
	// datagram is dropped, as a real overloaded UDP server would.
	maxUDPPending = 4096
)

// serveUDP echoes datagrams. A datagram is dropped (no echo) with
// probability Config.UDPDrop; each is otherwise a request like any other,
// where both an injected error and a rejection mean no echo.
func (s *Server) serveUDP(pc *net.UDPConn) {
	defer s.wg.Done()
	buf := make([]byte, udpBufSize)
	pending := make(chan struct{}, maxUDPPending)
	for {
		n, addr, err := pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.isClosed() {
				return
			}
			// A transient error (e.g. ICMP feedback): pause briefly so that
			// a persistent one cannot spin a core, then serve on.
			if !sleep(time.Millisecond, nil, s.done, nil) {
				return
			}
			continue
		}
		s.gaps[listenUDP].arrive() // dropped or not, it arrived
		if s.cfg.UDPDrop > 0 && rand.Float64() < s.cfg.UDPDrop {
			s.counters.udpDropped.Add(1)
			continue
		}
		b := &s.defaults.Load().b
		if b.Delay.IsZero() && b.ErrorRate == 0 && s.adm == nil && s.stall.until.Load() == 0 {
			// The common case answers inline, without a goroutine.
			s.counters.count(protoUDP, 0)
			_, _ = pc.WriteToUDPAddrPort(buf[:n], addr)
			continue
		}
		select {
		case pending <- struct{}{}:
		default:
			s.counters.udpDropped.Add(1)
			continue
		}
		msg := append([]byte(nil), buf[:n]...)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-pending }()
			s.echoUDP(pc, b, msg, addr)
		}()
	}
}

func (s *Server) echoUDP(pc *net.UDPConn, b *Behavior, msg []byte, addr netip.AddrPort) {
	if s.adm != nil && !s.adm.acquire(nil, s.done) {
		s.counters.rejected[protoUDP].Add(1)
		return
	}
	s.counters.inFlight.Add(1)
	defer func() {
		s.counters.inFlight.Add(-1)
		if s.adm != nil {
			s.adm.release()
		}
	}()
	o := b.draw()
	if !s.clock.sleep(o.delay, nil, s.done, nil) || !s.stall.wait(nil, s.done, nil) {
		return
	}
	if o.fail {
		s.counters.udpDropped.Add(1)
		return
	}
	s.counters.count(protoUDP, 0)
	_, _ = pc.WriteToUDPAddrPort(msg, addr)
}
