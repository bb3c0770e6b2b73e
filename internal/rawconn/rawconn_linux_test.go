//go:build linux

package rawconn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pair returns the two ends of a loopback TCP connection: the client end
// (to be wrapped or not) and the server's.
func pair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wl := Listener(ln)
	defer wl.Close()
	go func() {
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	c, err := wl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(*conn); !ok {
		t.Fatalf("accepted %T, want it wrapped", c)
	}
	b, err := io.ReadAll(c)
	if string(b) != "hi" || err != nil {
		t.Errorf("read %q, %v", b, err)
	}
}

func TestWrapKinds(t *testing.T) {
	c, _ := pair(t)
	if _, ok := Wrap(c).(*conn); !ok {
		t.Errorf("Wrap(%T) did not wrap it", c)
	}
	if got := Unwrap(Wrap(c)); got != c {
		t.Errorf("Unwrap(Wrap(c)) = %v, want c", got)
	}
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	if got := Wrap(p1); got != p1 {
		t.Errorf("Wrap(net.Pipe end) = %T, want it unchanged", got)
	}
	if got := Unwrap(p1); got != p1 {
		t.Errorf("Unwrap of an unwrapped connection changed it")
	}
}

// TestLargeExchange moves more than the sockets' buffers hold each way at
// once, so that writes meet a full buffer (EAGAIN) and wait in the poller,
// and checks every byte against what was sent.
func TestLargeExchange(t *testing.T) {
	c, s := pair(t)
	w := Wrap(c)
	const size = 8 << 20
	out := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	for i := range out {
		out[i] ^= byte(i / 4096)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	var echoErr error
	go func() { // the server echoes everything back
		defer wg.Done()
		_, echoErr = io.CopyN(s, s, size)
	}()
	var writeErr error
	var wrote int
	go func() {
		defer wg.Done()
		wrote, writeErr = w.Write(out)
	}()
	in := make([]byte, 0, size)
	buf := make([]byte, 3000) // odd size: reads end mid-pattern
	for len(in) < size {
		n, err := w.Read(buf)
		in = append(in, buf[:n]...)
		if err != nil {
			t.Fatalf("read after %d bytes: %v", len(in), err)
		}
	}
	wg.Wait()
	if writeErr != nil || wrote != size {
		t.Fatalf("write: %d bytes, %v; want %d, nil", wrote, writeErr, size)
	}
	if echoErr != nil {
		t.Fatalf("echo: %v", echoErr)
	}
	if !bytes.Equal(in, out) {
		t.Fatal("the bytes read back differ from those written")
	}
}

// outcome is what a scenario's final call returned, in the terms a caller
// can see: the error's kind and its text with the ports taken out.
type outcome struct {
	n       int
	eof     bool
	timeout bool
	closed  bool
	reset   bool
	pipe    bool
	text    string
}

func describe(c net.Conn, n int, err error) outcome {
	o := outcome{n: n, eof: err == io.EOF, closed: errors.Is(err, net.ErrClosed),
		reset: errors.Is(err, syscall.ECONNRESET), pipe: errors.Is(err, syscall.EPIPE)}
	var ne net.Error
	o.timeout = errors.As(err, &ne) && ne.Timeout() && errors.Is(err, os.ErrDeadlineExceeded)
	if err != nil {
		o.text = strings.NewReplacer(c.LocalAddr().String(), "LOCAL", c.RemoteAddr().String(), "REMOTE").Replace(err.Error())
	}
	return o
}

// TestSameAsNetConn runs each scenario on a plain net.Conn (the oracle)
// and on a wrapped one, and wants the same count, the same kind of error
// and the same error text.
func TestSameAsNetConn(t *testing.T) {
	resetServer := func(s net.Conn) {
		s.(*net.TCPConn).SetLinger(0)
		s.Close()
	}
	tests := []struct {
		name string
		run  func(c, s net.Conn) (int, error)
	}{
		{"read data", func(c, s net.Conn) (int, error) {
			s.Write([]byte("hello"))
			return c.Read(make([]byte, 64))
		}},
		{"read EOF", func(c, s net.Conn) (int, error) {
			s.Close()
			return c.Read(make([]byte, 64))
		}},
		{"read empty buffer", func(c, s net.Conn) (int, error) {
			return c.Read(nil)
		}},
		{"read past deadline", func(c, s net.Conn) (int, error) {
			c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			return c.Read(make([]byte, 64))
		}},
		{"read deadline already past", func(c, s net.Conn) (int, error) {
			s.Write([]byte("waiting"))
			time.Sleep(10 * time.Millisecond)
			c.SetReadDeadline(time.Unix(1, 0))
			return c.Read(make([]byte, 64))
		}},
		{"read reset", func(c, s net.Conn) (int, error) {
			resetServer(s)
			time.Sleep(10 * time.Millisecond)
			return c.Read(make([]byte, 64))
		}},
		{"read after close", func(c, s net.Conn) (int, error) {
			c.Close()
			return c.Read(make([]byte, 64))
		}},
		{"read interrupted by close", func(c, s net.Conn) (int, error) {
			time.AfterFunc(20*time.Millisecond, func() { c.Close() })
			return c.Read(make([]byte, 64))
		}},
		{"write", func(c, s net.Conn) (int, error) {
			return c.Write([]byte("hello"))
		}},
		{"write empty", func(c, s net.Conn) (int, error) {
			return c.Write(nil)
		}},
		{"write after close", func(c, s net.Conn) (int, error) {
			c.Close()
			return c.Write([]byte("hello"))
		}},
		{"write to a reset connection", func(c, s net.Conn) (int, error) {
			resetServer(s)
			time.Sleep(10 * time.Millisecond)
			return c.Write([]byte("hello"))
		}},
		{"close write", func(c, s net.Conn) (int, error) {
			if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
				return 0, err
			}
			n, err := s.Read(make([]byte, 8)) // the server sees the end
			if err != io.EOF {
				return n, fmt.Errorf("server read %d, %v after CloseWrite; want EOF", n, err)
			}
			s.Write([]byte("still"))
			return c.Read(make([]byte, 8)) // the other way stays open
		}},
		{"write blocked past deadline", func(c, s net.Conn) (int, error) {
			// The server reads nothing: the write fills both buffers and
			// waits until its deadline.
			// The buffer is made first: zeroing 64 MiB under the race
			// detector took longer than a short deadline once.
			big := make([]byte, 64<<20)
			c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
			n, err := c.Write(big)
			if n > 0 && n < 64<<20 {
				n = 1 // how much fitted depends on buffer sizes; that some did is what counts
			}
			return n, err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c1, s1 := pair(t)
			n, err := tt.run(c1, s1)
			want := describe(c1, n, err)
			c2, s2 := pair(t)
			w := Wrap(c2)
			n, err = tt.run(w, s2)
			got := describe(w, n, err)
			if got != want {
				t.Errorf("wrapped: %+v\nnet.Conn: %+v", got, want)
			}
		})
	}
}

func TestNoAllocations(t *testing.T) {
	c, s := pair(t)
	w := Wrap(c)
	msg := []byte("ping")
	buf := make([]byte, 64)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := w.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(s, buf[:len(msg)]); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(w, buf[:len(msg)]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per exchange, want 0", allocs)
	}
}

// TestConcurrentWriters writes records from several goroutines at once, as
// net.Conn allows, and wants every record to arrive whole.
func TestConcurrentWriters(t *testing.T) {
	c, s := pair(t)
	w := Wrap(c)
	const writers, records, size = 8, 200, 1000
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := bytes.Repeat([]byte{byte('a' + g)}, size)
			for range records {
				if _, err := w.Write(rec); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	counts := make(map[byte]int)
	rec := make([]byte, size)
	for range writers * records {
		if _, err := io.ReadFull(s, rec); err != nil {
			t.Fatal(err)
		}
		if bytes.Count(rec, rec[:1]) != size {
			t.Fatalf("a record arrived interleaved with another: %q…", rec[:40])
		}
		counts[rec[0]]++
	}
	wg.Wait()
	for g := range writers {
		if n := counts[byte('a'+g)]; n != records {
			t.Errorf("writer %d: %d records arrived, want %d", g, n, records)
		}
	}
}
