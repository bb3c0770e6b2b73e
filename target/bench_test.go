package target

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"testing"
	"time"
)

// memConn is a connection that reads a fixed byte stream and discards
// writes: the HTTP/1.1 server's user-space work without system calls.
type memConn struct {
	net.Conn // nil: only Read, Write and Close are used on the hot path
	r        *bytes.Reader
	written  int
}

func (c *memConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *memConn) Write(p []byte) (int, error) { c.written += len(p); return len(p), nil }
func (c *memConn) Close() error                { return nil }

func newMemH1(t testing.TB, s *Server, stream []byte) (*h1conn, *memConn) {
	t.Helper()
	mc := &memConn{r: bytes.NewReader(stream)}
	// Watched as an accepted connection is, but not registered: the
	// watchdog has no business with it.
	w := &watchedConn{Conn: mc, set: s.conns, clock: s.coarse}
	hc := &h1conn{
		s: s, c: w, raw: w, w: w,
		br:    bufio.NewReaderSize(mc, readBufSize),
		bw:    bufio.NewWriterSize(mc, writeBufSize),
		timer: time.NewTimer(time.Hour),
	}
	hc.timer.Stop()
	return hc, mc
}

const wrkRequest = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"

// TestHTTP1HotPathNoAllocs guards the keep-alive fast path: serving a
// plain request allocates nothing.
func TestHTTP1HotPathNoAllocs(t *testing.T) {
	s := startTarget(t, Config{HTTP: anyPort, Defaults: Behavior{Size: 100}})
	const n = 100
	stream := []byte(strings.Repeat(wrkRequest, n))
	hc, mc := newMemH1(t, s, stream)
	hc.serve() // warm the buffers up
	allocs := testing.AllocsPerRun(20, func() {
		mc.r.Reset(stream)
		hc.br.Reset(mc)
		hc.serve()
	})
	if per := allocs / n; per > 0.01 {
		t.Errorf("%.2f allocations per request", per)
	}
	if got := s.Stats().Requests["http1"]["200"]; got < n {
		t.Errorf("%d requests counted", got)
	}
}

// TestHTTP1DelayedNoAllocs guards the delayed path: a request that waits
// out a delay on the delayClock allocates nothing either, once the
// connection's sleeper is set up.
func TestHTTP1DelayedNoAllocs(t *testing.T) {
	s := startTarget(t, Config{HTTP: anyPort, Defaults: Behavior{Size: 100, Delay: FixedDelay(20 * time.Microsecond)}})
	const n = 100
	stream := []byte(strings.Repeat(wrkRequest, n))
	hc, mc := newMemH1(t, s, stream)
	hc.serve()
	allocs := testing.AllocsPerRun(10, func() {
		mc.r.Reset(stream)
		hc.br.Reset(mc)
		hc.serve()
	})
	if per := allocs / n; per > 0.01 {
		t.Errorf("%.2f allocations per delayed request", per)
	}
}

// BenchmarkHTTP1Serve measures the user-space cost of one pipelined
// request (ns/op is per request) on the fast path (no system calls: see bench.sh for the
// end-to-end figure against net/http).
func BenchmarkHTTP1Serve(b *testing.B) {
	for _, tc := range []struct{ name, req string }{
		{"plain", wrkRequest},
		{"query", "GET /?size=10&status=201 HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"headers", "GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: smp\r\nAccept: */*\r\nX-Smp-Size: 10\r\n\r\n"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := Start(b.Context(), Config{HTTP: anyPort})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			const batch = 256
			stream := []byte(strings.Repeat(tc.req, batch))
			hc, mc := newMemH1(b, s, stream)
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.req)))
			b.ResetTimer()
			for left := b.N; left > 0; left -= batch {
				mc.r.Reset(stream[:min(left, batch)*len(tc.req)])
				hc.br.Reset(mc)
				hc.serve()
			}
		})
	}
}
