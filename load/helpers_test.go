package load

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testDriver is a small keep-alive HTTP/1.1 client over net/http's response
// parser: enough for the engine's tests against real servers, with none of
// the protocol driver's care for allocations.
type testDriver struct {
	addr, path string
	timeout    time.Duration
	opened     atomic.Int64
}

func newTestDriver(t testing.TB, url string) *testDriver {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &testDriver{addr: req.URL.Host, path: req.URL.RequestURI(), timeout: 5 * time.Second}
}

func (d *testDriver) Open(ctx context.Context) (Conn, error) {
	d.opened.Add(1)
	c := &testConn{d: d}
	return c, c.connect(ctx)
}

func (d *testDriver) Close() error { return nil }

func (d *testDriver) Protocol() Protocol { return Protocol{Name: "http", Codes: "http"} }

type testConn struct {
	d  *testDriver
	nc net.Conn
	br *bufio.Reader
}

func (c *testConn) connect(ctx context.Context) error {
	var dl net.Dialer
	nc, err := dl.DialContext(ctx, "tcp", c.d.addr)
	if err != nil {
		return fmt.Errorf("test driver: %w", err)
	}
	c.nc, c.br = nc, bufio.NewReader(nc)
	return nil
}

func (c *testConn) Do(ctx context.Context) (Outcome, error) {
	if c.nc == nil {
		if err := c.connect(ctx); err != nil {
			return Outcome{}, err
		}
	}
	// Cancelling the run must interrupt a request blocked on a slow server.
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c.nc.SetDeadline(time.Now().Add(c.d.timeout))
	if _, err := fmt.Fprintf(c.nc, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", c.d.path, c.d.addr); err != nil {
		c.drop()
		return Outcome{}, fmt.Errorf("test driver: write: %w", err)
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.drop()
		return Outcome{}, fmt.Errorf("test driver: read: %w", err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		c.drop()
		return Outcome{}, fmt.Errorf("test driver: body: %w", err)
	}
	if resp.Close {
		c.drop()
	}
	return Outcome{Code: resp.StatusCode, Failed: resp.StatusCode >= 400, Bytes: n}, nil
}

func (c *testConn) drop() {
	if c.nc != nil {
		c.nc.Close()
		c.nc = nil
	}
}

func (c *testConn) Close() error { c.drop(); return nil }

// server is an httptest server on 127.0.0.1 with a controllable handler.
type server struct {
	*httptest.Server
	hits  atomic.Int64
	delay atomic.Int64 // ns
	code  atomic.Int64
	// stall, when set, blocks every request until the channel is closed.
	mu    sync.Mutex
	stall chan struct{}
}

func newServer(t testing.TB) *server {
	t.Helper()
	s := &server{}
	s.code.Store(200)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		st := s.stall
		s.mu.Unlock()
		if st != nil {
			select {
			case <-st:
			case <-r.Context().Done():
			}
		}
		if d := s.delay.Load(); d > 0 {
			time.Sleep(time.Duration(d))
		}
		s.hits.Add(1)
		w.WriteHeader(int(s.code.Load()))
		io.WriteString(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s
}

// stallFor blocks the server's handler for d, from now.
func (s *server) stallFor(d time.Duration) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.stall = ch
	s.mu.Unlock()
	time.AfterFunc(d, func() {
		s.mu.Lock()
		s.stall = nil
		s.mu.Unlock()
		close(ch)
	})
}

// fakeConn answers at once, in memory: for allocation tests and engine
// benchmarks, where the protocol is not what is measured.
type fakeConn struct {
	n      int64
	failAt int64 // every failAt-th request fails with a 503 (0: never)
}

func (c *fakeConn) Do(context.Context) (Outcome, error) {
	c.n++
	if c.failAt > 0 && c.n%c.failAt == 0 {
		return Outcome{Code: 503, Failed: true}, nil
	}
	return Outcome{Code: 200, Bytes: 2}, nil
}

func (c *fakeConn) Close() error { return nil }

// fakeDriver speaks "fake", with HTTP's status codes, or, with noCodes,
// "fake-raw", without status codes (its code 200 means nothing).
type fakeDriver struct {
	failAt  int64
	noCodes bool
}

func (d fakeDriver) Open(context.Context) (Conn, error) { return &fakeConn{failAt: d.failAt}, nil }
func (d fakeDriver) Close() error                       { return nil }

func (d fakeDriver) Protocol() Protocol {
	if d.noCodes {
		return Protocol{Name: "fake-raw"}
	}
	return Protocol{Name: "fake", Codes: "http"}
}

// refusedURL returns an http URL on 127.0.0.1 where nothing listens.
func refusedURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr + "/"
}

func mustConstant(t testing.TB, rate float64) Pacer {
	t.Helper()
	p, err := NewConstant(rate)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func within(t testing.TB, what string, got, want, tol float64) {
	t.Helper()
	if got < want-tol || got > want+tol {
		t.Errorf("%s = %v, want %v ± %v", what, got, want, tol)
	}
}
