package tcp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/smp-project/smp/load"
)

// testTimeout bounds every network wait in these tests, so that a bug shows
// up as a failure rather than a hang.
const testTimeout = 10 * time.Second

// server is a TCP server on 127.0.0.1 whose connections are served by a
// test-supplied function. It stops at the end of the test.
type server struct {
	addr    string
	accepts atomic.Int64
}

func startServer(t *testing.T, serve func(c net.Conn)) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepts.Add(1)
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return s
}

// echo copies what it reads back, allocating nothing per request.
func echo(c net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// lines answers each line it reads with reply, written in pieces of
// chunk bytes (all at once when chunk is 0).
func lines(reply string, chunk int) func(net.Conn) {
	return func(c net.Conn) {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			for range bytes.Count(buf[:n], []byte("\n")) {
				r := []byte(reply)
				for len(r) > 0 {
					k := len(r)
					if chunk > 0 {
						k = min(chunk, k)
					}
					if _, err := c.Write(r[:k]); err != nil {
						return
					}
					r = r[k:]
					if chunk > 0 {
						time.Sleep(time.Millisecond) // separate reads on the client
					}
				}
			}
			if err != nil {
				return
			}
		}
	}
}

func newDriver(t *testing.T, opts load.Options, cfg Config) *Driver {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = testTimeout
	}
	d, err := New(opts, cfg)
	if err != nil {
		t.Fatalf("New(%+v, %+v): %v", opts, cfg, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func openConn(t *testing.T, d *Driver) load.Conn {
	t.Helper()
	c, err := d.Open(context.Background())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func intp(n int) *int { return &n }

func TestParseOptions(t *testing.T) {
	cases := []struct {
		name, json string
		want       Config
		err        string
	}{
		{name: "empty"},
		{name: "length", json: `{"response_bytes": 10}`, want: Config{ResponseBytes: intp(10)}},
		{name: "no response", json: `{"response_bytes": 0}`, want: Config{ResponseBytes: intp(0)}},
		{name: "delimiter", json: `{"delimiter": "\r\n", "max_response_bytes": 100}`, want: Config{Delimiter: "\r\n", MaxResponseBytes: 100}},
		{name: "per request", json: `{"connection_per_request": true, "linger_zero": true}`, want: Config{ConnectionPerRequest: true, LingerZero: true}},
		{name: "unknown key", json: `{"delim": "x"}`, err: `unknown key "delim" (known keys: response_bytes`},
		{name: "wrong type", json: `{"response_bytes": "10"}`, err: "response_bytes: want a int, got a JSON string"},
		{name: "both ends", json: `{"response_bytes": 1, "delimiter": "x"}`, err: "give one"},
		{name: "negative", json: `{"response_bytes": -1}`, err: "must not be negative"},
		{name: "max without delimiter", json: `{"max_response_bytes": 10}`, err: "only with a delimiter"},
		{name: "linger alone", json: `{"linger_zero": true}`, err: "only with connection_per_request"},
		{name: "trailing", json: `{}x`, err: "trailing data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseOptions(tc.json)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %+v, %v; want error containing %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got.ResponseBytes == nil) != (tc.want.ResponseBytes == nil) ||
				got.ResponseBytes != nil && *got.ResponseBytes != *tc.want.ResponseBytes {
				t.Errorf("response_bytes: got %v, want %v", got.ResponseBytes, tc.want.ResponseBytes)
			}
			got.ResponseBytes, tc.want.ResponseBytes = nil, nil
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	cases := []struct {
		name string
		opts load.Options
		cfg  Config
		err  string
	}{
		{name: "scheme", opts: load.Options{URL: "http://127.0.0.1:1"}, err: "unsupported URL scheme"},
		{name: "no port", opts: load.Options{URL: "tcp://127.0.0.1"}, err: "needs a host and a port"},
		{name: "path", opts: load.Options{URL: "tcp://127.0.0.1:1/x"}, err: "only tcp://host:port"},
		{name: "headers", opts: load.Options{URL: "tcp://127.0.0.1:1", Headers: map[string]string{"a": "b"}}, err: "no meaning"},
		{name: "TLS", opts: load.Options{URL: "tcp://127.0.0.1:1", InsecureSkipVerify: true}, err: "TLS is not supported"},
		{name: "timeout", opts: load.Options{URL: "tcp://127.0.0.1:1", Timeout: -1}, err: "negative timeout"},
		{name: "config", opts: load.Options{URL: "tcp://127.0.0.1:1"}, cfg: Config{ResponseBytes: intp(1), Delimiter: "x"}, err: "give one"},
		{name: "max shorter than delimiter", opts: load.Options{URL: "tcp://127.0.0.1:1"}, cfg: Config{Delimiter: "abc", MaxResponseBytes: 2}, err: "shorter than the delimiter"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := New(tc.opts, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("got %v, %v; want error containing %q", d, err, tc.err)
			}
		})
	}
}

// TestExchange covers the ways a response can end, on persistent
// connections and on a connection per request.
func TestExchange(t *testing.T) {
	echoSrv := startServer(t, echo)
	big := startServer(t, func(c net.Conn) {
		buf, reply := make([]byte, 4096), make([]byte, 100_000)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
			if _, err := c.Write(reply); err != nil {
				return
			}
		}
	})
	sink := startServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	cases := []struct {
		name  string
		addr  string
		body  string
		cfg   Config
		bytes int64
	}{
		{name: "default payload", addr: echoSrv.addr, bytes: int64(len(DefaultPayload))},
		{name: "given payload", addr: echoSrv.addr, body: "hello", bytes: 5},
		{name: "long response", addr: big.addr, cfg: Config{ResponseBytes: intp(100_000)}, bytes: 100_000},
		{name: "no response", addr: sink.addr, cfg: Config{ResponseBytes: intp(0)}},
		{name: "delimiter", addr: startServer(t, lines("OK\r\n", 0)).addr, cfg: Config{Delimiter: "\r\n"}, bytes: 4},
		{name: "delimiter across reads", addr: startServer(t, lines("+PONG\r\n", 1)).addr, cfg: Config{Delimiter: "\r\n"}, bytes: 7},
		{name: "long delimited", addr: startServer(t, lines(strings.Repeat("x", 50_000)+"\n", 0)).addr, cfg: Config{Delimiter: "\n"}, bytes: 50_001},
	}
	for _, tc := range cases {
		for _, perRequest := range []bool{false, true} {
			name := tc.name
			if perRequest {
				name += "/connection per request"
			}
			t.Run(name, func(t *testing.T) {
				cfg := tc.cfg
				cfg.ConnectionPerRequest = perRequest
				c := openConn(t, newDriver(t, load.Options{URL: "tcp://" + tc.addr, Body: []byte(tc.body)}, cfg))
				for i := range 3 {
					out, err := c.Do(context.Background())
					if err != nil || out.Bytes != tc.bytes || out.Code != 0 || out.Failed {
						t.Fatalf("request %d: got %+v, %v; want %d bytes", i, out, err, tc.bytes)
					}
					// Every request connects in the per-request mode and
					// reports it; none does on a persistent connection.
					if (out.Connect > 0) != perRequest {
						t.Errorf("request %d: connect time %v", i, out.Connect)
					}
				}
			})
		}
	}
}

// TestConnections: persistent Conns keep their connection; per-request
// ones open one per request, and close it with a reset when asked.
func TestConnections(t *testing.T) {
	cases := []struct {
		name       string
		cfg        Config
		wantAccept int64
		wantReset  bool
	}{
		{name: "persistent", wantAccept: 1},
		{name: "per request", cfg: Config{ConnectionPerRequest: true}, wantAccept: 5},
		{name: "per request, linger zero", cfg: Config{ConnectionPerRequest: true, LingerZero: true}, wantAccept: 5, wantReset: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var resets atomic.Int64
			srv := startServer(t, func(c net.Conn) {
				buf := make([]byte, 64)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						c.Write(buf[:n])
					}
					if errors.Is(err, syscall.ECONNRESET) {
						resets.Add(1)
					}
					if err != nil {
						return
					}
				}
			})
			c := openConn(t, newDriver(t, load.Options{URL: "tcp://" + srv.addr}, tc.cfg))
			for range 5 {
				if _, err := c.Do(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			c.Close()
			if got := srv.accepts.Load(); got != tc.wantAccept {
				t.Errorf("%d connections, want %d", got, tc.wantAccept)
			}
			// The server sees the last close shortly after.
			deadline := time.Now().Add(testTimeout)
			for tc.wantReset && resets.Load() < 5 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if tc.wantReset && resets.Load() != 5 {
				t.Errorf("the server saw %d resets, want 5", resets.Load())
			}
		})
	}
}

// TestStaleConnection: a server that closes each connection after one
// answer. The request that finds the connection closed fails (EOF or
// reset) and is not sent again; the next one reconnects, reports its
// connect time, and is answered. The server reads each request once.
func TestStaleConnection(t *testing.T) {
	const rounds = 3
	var reads atomic.Int64
	srv := startServer(t, func(c net.Conn) {
		buf := make([]byte, 64)
		n, _ := c.Read(buf)
		if n > 0 {
			reads.Add(1)
		}
		c.Write(buf[:n])
	})
	c := openConn(t, newDriver(t, load.Options{URL: "tcp://" + srv.addr}, Config{}))
	if out, err := c.Do(context.Background()); err != nil || out.Bytes != int64(len(DefaultPayload)) || out.Connect != 0 {
		t.Fatalf("first request: %+v, %v", out, err)
	}
	for i := range rounds {
		time.Sleep(20 * time.Millisecond) // let the FIN arrive
		out, err := c.Do(context.Background())
		if r := load.Classify(err); r != load.ReasonEOF && r != load.ReasonReset {
			t.Fatalf("round %d, on the closed connection: %+v, %v (%q), want EOF or a reset", i, out, err, r)
		}
		if out.Connect != 0 {
			t.Errorf("round %d: the failed request reports a connect time %v", i, out.Connect)
		}
		out, err = c.Do(context.Background())
		if err != nil || out.Bytes != int64(len(DefaultPayload)) || out.Connect <= 0 {
			t.Fatalf("round %d, after the failure: %+v, %v; want an answer on a new connection, with its connect time", i, out, err)
		}
	}
	if got := srv.accepts.Load(); got != rounds+1 {
		t.Errorf("%d connections, want %d", got, rounds+1)
	}
	if got := reads.Load(); got != rounds+1 {
		t.Errorf("the server read %d requests, want %d", got, rounds+1)
	}
}

func TestErrors(t *testing.T) {
	refused := closedPort(t)
	cases := []struct {
		name    string
		serve   func(net.Conn) // nil: nothing listens
		cfg     Config
		timeout time.Duration
		reason  string
		is      error
	}{
		{name: "refused", reason: load.ReasonConnectRefused, is: syscall.ECONNREFUSED},
		{name: "refused per request", cfg: Config{ConnectionPerRequest: true}, reason: load.ReasonConnectRefused, is: syscall.ECONNREFUSED},
		{name: "no answer", serve: func(c net.Conn) { io.Copy(io.Discard, c) }, timeout: 100 * time.Millisecond,
			reason: load.ReasonTimeout, is: os.ErrDeadlineExceeded},
		{name: "short answer", serve: func(c net.Conn) { c.Read(make([]byte, 64)); c.Write([]byte("x")) },
			reason: load.ReasonEOF, is: io.ErrUnexpectedEOF},
		{name: "reset", serve: func(c net.Conn) { c.Read(make([]byte, 64)); c.(*net.TCPConn).SetLinger(0) },
			reason: load.ReasonReset, is: syscall.ECONNRESET},
		{name: "bytes past the delimiter", serve: lines("a\nb", 0), cfg: Config{Delimiter: "\n"}, reason: load.ReasonOther, is: errExtraBytes},
		{name: "no delimiter", serve: lines(strings.Repeat("x", 200), 0), cfg: Config{Delimiter: "\n", MaxResponseBytes: 100}, reason: load.ReasonOther},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := refused
			if tc.serve != nil {
				addr = startServer(t, tc.serve).addr
			}
			timeout := tc.timeout
			if timeout == 0 {
				timeout = testTimeout
			}
			d := newDriver(t, load.Options{URL: "tcp://" + addr, Timeout: timeout}, tc.cfg)
			start := time.Now()
			c, err := d.Open(context.Background())
			if err == nil {
				defer c.Close()
				var out load.Outcome
				out, err = c.Do(context.Background())
				// A Do that connects reports the time it took, even when
				// connecting was what failed.
				if (out.Connect > 0) != tc.cfg.ConnectionPerRequest {
					t.Errorf("connect time %v", out.Connect)
				}
			}
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			if load.Classify(err) != tc.reason || tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q: reason %s, is %v: want %s, %v", err, load.Classify(err), errors.Is(err, tc.is), tc.reason, tc.is)
			}
			if tc.reason == load.ReasonConnectRefused && !load.IsConnectError(err) {
				t.Errorf("error %q is not a connect error", err)
			}
			if el := time.Since(start); el > timeout+time.Second {
				t.Errorf("took %v with a %v timeout", el, timeout)
			}
		})
	}
}

// TestCancel: a Do waiting for an answer returns when the run stops.
func TestCancel(t *testing.T) {
	srv := startServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	c := openConn(t, newDriver(t, load.Options{URL: "tcp://" + srv.addr}, Config{}))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Do(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want the cancellation", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("Do returned %v after the cancel", el)
	}
}

func TestClosed(t *testing.T) {
	srv := startServer(t, echo)
	d := newDriver(t, load.Options{URL: "tcp://" + srv.addr}, Config{})
	c := openConn(t, d)
	c.Close()
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c.Do(context.Background()); err == nil {
		t.Error("Do on a closed Conn succeeded")
	}
	d.Close()
	if _, err := d.Open(context.Background()); err == nil {
		t.Error("Open on a closed Driver succeeded")
	}
}

// TestDoDoesNotAllocate proves the hot-path claim for persistent
// connections. The echo server allocates nothing per request either,
// since AllocsPerRun counts the whole process.
func TestDoDoesNotAllocate(t *testing.T) {
	cases := []struct {
		name  string
		serve func(net.Conn)
		cfg   Config
	}{
		{"length", echo, Config{}},
		{"delimiter", echo, Config{Delimiter: "\n"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := openConn(t, newDriver(t, load.Options{URL: "tcp://" + startServer(t, tc.serve).addr}, tc.cfg))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var failed error
			allocs := testing.AllocsPerRun(1000, func() {
				if _, err := c.Do(ctx); err != nil {
					failed = err
				}
			})
			if failed != nil {
				t.Fatal(failed)
			}
			if allocs != 0 {
				t.Errorf("Do allocated %v times per request, want 0", allocs)
			}
		})
	}
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
