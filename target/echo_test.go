package target

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

func TestTCPEcho(t *testing.T) {
	s := startTarget(t, Config{TCP: anyPort, Defaults: Behavior{Delay: FixedDelay(10 * time.Millisecond)}})
	c, err := net.Dial("tcp", s.Addrs().TCP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	for _, msg := range []string{"ping", "a longer message"} {
		start := time.Now()
		if _, err := io.WriteString(c, msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
		if string(got) != msg {
			t.Errorf("echo %q, want %q", got, msg)
		}
		if el := time.Since(start); el < 10*time.Millisecond {
			t.Errorf("echo after %v, before the 10ms delay", el)
		}
	}
	if got := s.Stats().Requests["tcp"]["ok"]; got != 2 {
		t.Errorf("tcp echoes counted %d, want 2", got)
	}
}

func TestTCPReset(t *testing.T) {
	s := startTarget(t, Config{TCP: anyPort, Defaults: Behavior{ErrorRate: 1}})
	c, err := net.Dial("tcp", s.Addrs().TCP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "ping"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Read(make([]byte, 4))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read after injected error: %v, want connection reset", err)
	}
}

func TestUDPEcho(t *testing.T) {
	s := startTarget(t, Config{UDP: anyPort})
	c, err := net.Dial("udp", s.Addrs().UDP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, msg := range [][]byte{[]byte("ping"), bytes.Repeat([]byte("u"), 1400)} {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 2048)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf[:n], msg) {
			t.Errorf("echo of %d bytes, want %d", n, len(msg))
		}
	}
}

func TestUDPDelayAndDrop(t *testing.T) {
	// A delayed echo goes through the per-datagram path.
	s := startTarget(t, Config{UDP: anyPort, Defaults: Behavior{Delay: FixedDelay(10 * time.Millisecond)}})
	c, err := net.Dial("udp", s.Addrs().UDP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 10*time.Millisecond {
		t.Errorf("delayed echo after %v", el)
	}

	// UDPDrop: every datagram is either echoed or counted as dropped, and
	// the drop share is near the configured one.
	const sent, drop = 2000, 0.3
	s = startTarget(t, Config{UDP: anyPort, UDPDrop: drop})
	c2, err := net.Dial("udp", s.Addrs().UDP)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	echoed := 0
	buf := make([]byte, 16)
	const batch = 100 // small enough for the socket buffers: only the target drops
	for range sent / batch {
		for range batch {
			if _, err := c2.Write([]byte("d")); err != nil {
				t.Fatal(err)
			}
		}
		for {
			_ = c2.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if _, err := c2.Read(buf); err != nil {
				break
			}
			echoed++
		}
	}
	for { // a generous last drain, for a loaded machine
		_ = c2.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if _, err := c2.Read(buf); err != nil {
			break
		}
		echoed++
	}
	st := s.Stats()
	dropped := int(st.UDPDropped)
	if served := int(st.Requests["udp"]["ok"]); served+dropped != sent {
		t.Errorf("echoed %d + dropped %d != sent %d", served, dropped, sent)
	}
	if share := float64(dropped) / sent; share < drop-0.05 || share > drop+0.05 {
		t.Errorf("dropped %.3f of datagrams, want %.2f ± 0.05", share, drop)
	}
	if echoed != sent-dropped {
		t.Errorf("received %d echoes, the target served %d", echoed, sent-dropped)
	}

	// UDPDrop 1: nothing comes back.
	s = startTarget(t, Config{UDP: anyPort, UDPDrop: 1})
	c3, err := net.Dial("udp", s.Addrs().UDP)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	_, _ = c3.Write([]byte("x"))
	_ = c3.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := c3.Read(buf); err == nil {
		t.Error("UDPDrop 1 echoed a datagram")
	}
}
