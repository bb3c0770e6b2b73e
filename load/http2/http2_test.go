package http2

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smp-project/smp/load"
)

// TestReachesHTTP2Server: h2c and TLS (trusted through CAFile or not
// verified) both arrive at the server as HTTP/2.
func TestReachesHTTP2Server(t *testing.T) {
	cases := []struct {
		name string
		tls  bool
		opts func(srv *httptest.Server) load.Options
	}{
		{name: "h2c prior knowledge", opts: func(srv *httptest.Server) load.Options { return load.Options{} }},
		{name: "TLS with CA file", tls: true, opts: func(srv *httptest.Server) load.Options {
			return load.Options{CAFile: caFile(t, srv)}
		}},
		{name: "TLS insecure", tls: true, opts: func(srv *httptest.Server) load.Options {
			return load.Options{InsecureSkipVerify: true}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			protos := make(chan string, 10)
			srv, cnt := h2Server(t, tc.tls, func(w http.ResponseWriter, r *http.Request) {
				protos <- fmt.Sprintf("%s %d", r.Proto, r.ProtoMajor)
				io.WriteString(w, "hello")
			})
			opts := tc.opts(srv)
			opts.URL = srv.URL + "/p"
			c := openConn(t, newDriver(t, opts))
			for i := range 3 {
				out, err := c.Do(context.Background())
				if err != nil || out != (load.Outcome{Code: 200, Bytes: 5}) {
					t.Fatalf("request %d: %+v, %v", i, out, err)
				}
				if p := <-protos; p != "HTTP/2.0 2" {
					t.Fatalf("server saw %s, want HTTP/2.0", p)
				}
			}
			if n := cnt.conns.Load(); n != 1 {
				t.Errorf("%d connections, want 1", n)
			}
		})
	}
}

// TestStreamsShareConnections: Open called N*S times makes N connections,
// and the S Conns of one connection really have S streams in flight on it
// at once.
func TestStreamsShareConnections(t *testing.T) {
	for _, tc := range []struct{ streams, opens, wantConns int }{
		{streams: 4, opens: 8, wantConns: 2},
		{streams: 4, opens: 9, wantConns: 3},
		{streams: 1, opens: 3, wantConns: 3},
		{streams: 0, opens: 2, wantConns: 2}, // 0 means 1
	} {
		t.Run(fmt.Sprintf("%d streams %d opens", tc.streams, tc.opens), func(t *testing.T) {
			perConn := max(tc.streams, 1)
			var mu sync.Mutex
			inFlight := map[string]int{} // by client address, i.e. connection
			peak := map[string]int{}
			total, released := 0, false
			srv, cnt := h2Server(t, false, func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				inFlight[r.RemoteAddr]++
				peak[r.RemoteAddr] = max(peak[r.RemoteAddr], inFlight[r.RemoteAddr])
				total++
				released = released || total == tc.opens
				mu.Unlock()
				// Hold the first requests until every Conn has one in
				// flight, so that each connection's peak is its number of
				// Conns (bounded, in case that never happens).
				for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
					mu.Lock()
					all := released
					mu.Unlock()
					if all {
						break
					}
				}
				mu.Lock()
				inFlight[r.RemoteAddr]--
				total--
				mu.Unlock()
			})
			d := newDriver(t, load.Options{URL: srv.URL, Streams: tc.streams})
			conns := make([]load.Conn, tc.opens)
			for i := range conns {
				conns[i] = openConn(t, d)
			}
			// The server may accept a beat after Open returns.
			waitFor(t, func() bool { return cnt.conns.Load() >= int64(tc.wantConns) })
			const perHandle = 10
			var wg sync.WaitGroup
			errs := make(chan error, tc.opens*perHandle)
			for _, c := range conns {
				wg.Go(func() {
					for range perHandle {
						if out, err := c.Do(context.Background()); err != nil || out.Code != 200 {
							errs <- fmt.Errorf("%+v, %v", out, err)
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if n := cnt.conns.Load(); n != int64(tc.wantConns) {
				t.Errorf("after the requests: %d connections, want %d", n, tc.wantConns)
			}
			mu.Lock()
			defer mu.Unlock()
			full := 0
			for _, p := range peak {
				if p > perConn {
					t.Errorf("%d streams in flight on one connection, want at most %d", p, perConn)
				}
				if p == perConn {
					full++
				}
			}
			// The last connection may have fewer Conns than streams.
			if want := tc.opens / perConn; full < want {
				t.Errorf("%d connections reached %d concurrent streams, want %d (peaks %v)", full, perConn, want, peak)
			}
		})
	}
}

// TestFramingMatchesNetHTTP compares status and body size with net/http's
// HTTP/2 client on the same server.
func TestFramingMatchesNetHTTP(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 64<<10) // 1 MiB: flow control windows
	cases := []struct {
		name    string
		method  string
		handler http.HandlerFunc
	}{
		{name: "small", handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }},
		{name: "large", handler: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) }},
		{name: "streamed", handler: func(w http.ResponseWriter, r *http.Request) {
			for i := range 10 {
				fmt.Fprintf(w, "part %d;", i)
				w.(http.Flusher).Flush()
			}
		}},
		{name: "empty", handler: func(w http.ResponseWriter, r *http.Request) {}},
		{name: "204", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }},
		{name: "304", handler: func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotModified) }},
		{name: "HEAD", method: http.MethodHead, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
		}},
		{name: "103 then 200", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</a>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, "final")
		}},
		{name: "trailers", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, "data")
			w.Header().Set("X-Sum", "1")
		}},
		{name: "404", handler: http.NotFound},
		{name: "503", handler: func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := h2Server(t, false, tc.handler)
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			wantCode, wantBytes := netHTTPDo(t, srv.URL, method)
			want := load.Outcome{Code: wantCode, Failed: wantCode >= 400, Bytes: wantBytes}
			c := openConn(t, newDriver(t, load.Options{URL: srv.URL, Method: tc.method}))
			for i := range 3 {
				out, err := c.Do(context.Background())
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if out != want {
					t.Fatalf("request %d: got %+v, net/http got %+v", i, out, want)
				}
			}
		})
	}
}

// netHTTPDo is the oracle: net/http's client speaking h2c.
func netHTTPDo(t *testing.T, url, method string) (int, int64) {
	t.Helper()
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &protos, DisableCompression: true}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("net/http: %v", err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("net/http spoke %s", resp.Proto)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		t.Fatalf("net/http: read body: %v", err)
	}
	return resp.StatusCode, n
}

// TestRequestAsSet: what the options say arrives at the server.
func TestRequestAsSet(t *testing.T) {
	got := make(chan string, 10)
	srv, _ := h2Server(t, false, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		user, pass, _ := r.BasicAuth()
		var cookies []string
		for _, c := range r.Cookies() {
			cookies = append(cookies, c.Name+"="+c.Value)
		}
		got <- fmt.Sprintf("%s %s host=%s ua=%s ct=%s x=%s len=%d body=%s auth=%s:%s cookies=%v",
			r.Method, r.URL.RequestURI(), r.Host, r.UserAgent(), r.Header.Get("Content-Type"),
			r.Header.Get("X-Test"), r.ContentLength, b, user, pass, cookies)
	})
	addr := strings.TrimPrefix(srv.URL, "http://")
	cases := []struct {
		name string
		opts load.Options
		want string
	}{
		{
			name: "GET defaults",
			opts: load.Options{URL: srv.URL + "/p?q=1"},
			want: "GET /p?q=1 host=" + addr + " ua=smp ct= x= len=0 body= auth=: cookies=[]",
		},
		{
			name: "POST with everything",
			opts: load.Options{
				URL:         "http://u:p%20w@" + addr + "/submit",
				Headers:     map[string]string{"x-test": "yes", "Host": "example.test", "Cookie": "pre=0"},
				Cookies:     map[string]string{"session": "abc", "b": "two words"},
				Body:        []byte(`{"k":"v"}`),
				ContentType: "application/json",
			},
			want: `POST /submit host=example.test ua=smp ct=application/json x=yes len=9 body={"k":"v"} auth=u:p w cookies=[pre=0 b=two words session=abc]`,
		},
		{
			name: "explicit method and user agent",
			opts: load.Options{URL: srv.URL + "/r", Method: "PUT", Headers: map[string]string{"User-Agent": "custom/1"}},
			want: "PUT /r host=" + addr + " ua=custom/1 ct= x= len=0 body= auth=: cookies=[]",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := openConn(t, newDriver(t, tc.opts))
			for range 3 { // the body is sent in full every time
				if out, err := c.Do(context.Background()); err != nil || out.Code != 200 {
					t.Fatalf("%+v, %v", out, err)
				}
				if s := <-got; s != tc.want {
					t.Errorf("server saw\n%s\nwant\n%s", s, tc.want)
				}
			}
		})
	}
}

// TestReconnect: when the server drops the connection, or sends GOAWAY on
// idle, the next request goes out on a new connection, reports the time it
// took to set up, and no request is sent twice.
func TestReconnect(t *testing.T) {
	const n = 5
	t.Run("server closes connections", func(t *testing.T) {
		srv, cnt := h2Server(t, false, func(w http.ResponseWriter, r *http.Request) {})
		c := openConn(t, newDriver(t, load.Options{URL: srv.URL}))
		for i := range n {
			out, err := c.Do(context.Background())
			if err != nil || out.Code != 200 {
				t.Fatalf("request %d: %+v, %v", i, out, err)
			}
			// The first goes on the connection Open made.
			if (i > 0) != (out.Connect > 0) {
				t.Errorf("request %d: connect time %v", i, out.Connect)
			}
			srv.CloseClientConnections()
			waitUnusable(t, c)
		}
		if got := cnt.requests.Load(); got != n {
			t.Errorf("server saw %d requests, want %d", got, n)
		}
		if got := cnt.conns.Load(); got != n {
			t.Errorf("server saw %d connections, want %d", got, n)
		}
	})
	t.Run("server closes connections, no waiting", func(t *testing.T) {
		// The next request may go out before the client has seen the
		// close: it then fails, and is not sent again; the one after
		// reconnects.
		srv, cnt := h2Server(t, false, func(w http.ResponseWriter, r *http.Request) {})
		c := openConn(t, newDriver(t, load.Options{URL: srv.URL}))
		var ok int64
		for i := range n {
			srv.CloseClientConnections()
			out, err := c.Do(context.Background())
			if err != nil {
				if out.Connect != 0 {
					t.Errorf("request %d failed on the old connection but reports a connect time %v", i, out.Connect)
				}
				out, err = c.Do(context.Background())
			}
			if err != nil || out.Code != 200 || out.Connect <= 0 {
				t.Fatalf("request %d: %+v, %v; want 200 on a new connection, with its connect time", i, out, err)
			}
			ok++
		}
		if got := cnt.requests.Load(); got != ok {
			t.Errorf("server saw %d requests, want %d", got, ok)
		}
	})
	t.Run("idle timeout", func(t *testing.T) {
		srv, cnt := h2Server(t, false, func(w http.ResponseWriter, r *http.Request) {},
			func(s *http.Server) { s.IdleTimeout = 10 * time.Millisecond })
		c := openConn(t, newDriver(t, load.Options{URL: srv.URL, Streams: 2}))
		for i := range n {
			time.Sleep(50 * time.Millisecond)
			out, err := c.Do(context.Background())
			if err != nil || out.Code != 200 {
				t.Fatalf("request %d: %+v, %v", i, out, err)
			}
			if out.Connect <= 0 {
				t.Errorf("request %d after the idle timeout: no connect time", i)
			}
		}
		if got := cnt.requests.Load(); got != n {
			t.Errorf("server saw %d requests, want %d", got, n)
		}
		if got := cnt.conns.Load(); got < 2 {
			t.Errorf("server saw %d connections; the idle timeout never closed one", got)
		}
	})
}

// waitUnusable waits until the client has seen that c's connection is
// closed or going away.
func waitUnusable(t *testing.T, c load.Conn) {
	t.Helper()
	st := c.(*Conn).st
	for deadline := time.Now().Add(testTimeout); !st.Unusable(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the client never saw its connection close")
		}
	}
}

// TestStreamErrorKeepsConnection: a stream the server resets fails that
// request only; the connection carries on.
func TestStreamErrorKeepsConnection(t *testing.T) {
	srv, cnt := h2Server(t, false, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("abort") {
			panic(http.ErrAbortHandler) // RST_STREAM
		}
	})
	bad := openConn(t, newDriver(t, load.Options{URL: srv.URL + "/?abort"}))
	if _, err := bad.Do(context.Background()); err == nil {
		t.Fatal("an aborted stream succeeded")
	}
	d := newDriver(t, load.Options{URL: srv.URL, Streams: 2})
	c1, c2 := openConn(t, d), openConn(t, d)
	for i := range 3 {
		for _, c := range []load.Conn{c1, c2} {
			if out, err := c.Do(context.Background()); err != nil || out.Code != 200 {
				t.Fatalf("request %d: %+v, %v", i, out, err)
			}
		}
	}
	if got := cnt.conns.Load(); got != 2 {
		t.Errorf("%d connections, want 2 (one per driver)", got)
	}
}

func TestTLSFailures(t *testing.T) {
	srv, _ := h2Server(t, true, func(w http.ResponseWriter, r *http.Request) {})
	t.Run("unknown authority", func(t *testing.T) {
		d := newDriver(t, load.Options{URL: srv.URL})
		_, err := d.Open(context.Background())
		var verr *tls.CertificateVerificationError
		var uerr x509.UnknownAuthorityError
		if !errors.As(err, &verr) || !errors.As(err, &uerr) {
			t.Fatalf("got %v, want a certificate verification error", err)
		}
	})
	t.Run("HTTP/1.1-only server", func(t *testing.T) {
		h1 := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		h1.Config.ErrorLog = log.New(io.Discard, "", 0)
		defer h1.Close()
		d := newDriver(t, load.Options{URL: h1.URL, InsecureSkipVerify: true})
		_, err := d.Open(context.Background())
		if err == nil || !strings.Contains(err.Error(), "no application protocol") {
			t.Fatalf("got %v, want the server's ALPN refusal", err)
		}
	})
	t.Run("server without ALPN", func(t *testing.T) {
		cfg := srv.TLS.Clone()
		cfg.NextProtos = nil
		ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(testTimeout))
			c.(*tls.Conn).Handshake()
			c.Read(make([]byte, 1))
		}()
		d := newDriver(t, load.Options{URL: "https://" + ln.Addr().String(), InsecureSkipVerify: true})
		_, err = d.Open(context.Background())
		if err == nil || !strings.Contains(err.Error(), "did not negotiate HTTP/2 through ALPN") {
			t.Fatalf("got %v, want an ALPN error", err)
		}
	})
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/"
	ln.Close()
	d := newDriver(t, load.Options{URL: url, Streams: 4})
	if _, err := d.Open(context.Background()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Open: got %v, want ECONNREFUSED", err)
	}
}

// TestServerGoesAway: once the server is gone, requests fail with the
// refused reconnection.
func TestServerGoesAway(t *testing.T) {
	srv, _ := h2Server(t, false, func(w http.ResponseWriter, r *http.Request) {})
	c := openConn(t, newDriver(t, load.Options{URL: srv.URL}))
	if _, err := c.Do(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	var err error
	for range 3 { // the first may fail otherwise, before the refusal
		if _, err = c.Do(context.Background()); errors.Is(err, syscall.ECONNREFUSED) {
			return
		}
		if err == nil {
			t.Fatal("request to a closed server succeeded")
		}
	}
	t.Fatalf("got %v, want ECONNREFUSED", err)
}

// stallingServer answers nothing until the client gives up on the request.
func stallingServer(t *testing.T) *httptest.Server {
	srv, _ := h2Server(t, false, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(testTimeout):
		}
	})
	return srv
}

func TestTimeout(t *testing.T) {
	srv := stallingServer(t)
	c := openConn(t, newDriver(t, load.Options{URL: srv.URL, Timeout: 100 * time.Millisecond}))
	start := time.Now()
	_, err := c.Do(context.Background())
	if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want os.ErrDeadlineExceeded and context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 5*time.Second {
		t.Errorf("timed out after %v, want about 100ms", d)
	}
}

func TestCancel(t *testing.T) {
	srv := stallingServer(t)
	c := openConn(t, newDriver(t, load.Options{URL: srv.URL, Timeout: time.Minute}))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Do(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancellation took %v", d)
	}
}

// TestClose: the connection goes with the last Conn of its group, and
// nothing works after the driver's Close.
func TestClose(t *testing.T) {
	srv, cnt := h2Server(t, false, func(w http.ResponseWriter, r *http.Request) {})
	d := newDriver(t, load.Options{URL: srv.URL, Streams: 2})
	c1, c2 := openConn(t, d), openConn(t, d)
	for _, c := range []load.Conn{c1, c2} {
		if _, err := c.Do(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	c1.Close()
	if _, err := c2.Do(context.Background()); err != nil {
		t.Fatalf("the group's other Conn: %v", err)
	}
	c2.Close()
	c2.Close()
	waitFor(t, func() bool { return cnt.closed.Load() == 1 })
	if _, err := c2.Do(context.Background()); err == nil {
		t.Error("Do after Close succeeded")
	}

	c3 := openConn(t, d)
	if _, err := c3.Do(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c3.Do(context.Background()); err == nil {
		t.Error("Do after the driver's Close succeeded")
	}
	if _, err := d.Open(context.Background()); err == nil {
		t.Error("Open after the driver's Close succeeded")
	}
	waitFor(t, func() bool { return cnt.closed.Load() == 2 })
}

func TestNewRejects(t *testing.T) {
	cases := map[string]load.Options{
		"bad scheme":          {URL: "h2c://127.0.0.1/"},
		"no host":             {URL: "http:///path"},
		"bad method":          {URL: "http://127.0.0.1/", Method: "GET /x"},
		"CONNECT":             {URL: "http://127.0.0.1/", Method: "CONNECT"},
		"bad header name":     {URL: "http://127.0.0.1/", Headers: map[string]string{"X Bad": "1"}},
		"header injection":    {URL: "http://127.0.0.1/", Headers: map[string]string{"X-A": "1\r\nX-B: 2"}},
		"connection header":   {URL: "http://127.0.0.1/", Headers: map[string]string{"Connection": "close"}},
		"transfer-encoding":   {URL: "http://127.0.0.1/", Headers: map[string]string{"Transfer-Encoding": "chunked"}},
		"content-length":      {URL: "http://127.0.0.1/", Headers: map[string]string{"content-length": "3"}},
		"duplicate header":    {URL: "http://127.0.0.1/", Headers: map[string]string{"x-a": "1", "X-A": "2"}},
		"two content types":   {URL: "http://127.0.0.1/", ContentType: "a/b", Headers: map[string]string{"Content-Type": "c/d"}},
		"bad cookie":          {URL: "http://127.0.0.1/", Cookies: map[string]string{"a": "x;y"}},
		"negative timeout":    {URL: "http://127.0.0.1/", Timeout: -time.Second},
		"negative streams":    {URL: "http://127.0.0.1/", Streams: -1},
		"missing CA file":     {URL: "https://127.0.0.1/", CAFile: "/nonexistent/ca.pem"},
		"key without cert":    {URL: "https://127.0.0.1/", KeyFile: "/nonexistent/key.pem"},
		"missing client cert": {URL: "https://127.0.0.1/", CertFile: "/nonexistent/c.pem", KeyFile: "/nonexistent/k.pem"},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			if d, err := New(opts); err == nil {
				d.Close()
				t.Fatalf("New(%+v) succeeded", opts)
			} else if !strings.HasPrefix(err.Error(), "http2: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}
