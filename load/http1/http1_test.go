package http1

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smp-project/smp/load"
)

// TestFramingMatchesNetHTTP checks, with net/http's client as the oracle,
// that every way net/http's server frames a response is read to its end: the
// status and body size agree, and three requests in a row on one Conn all
// succeed (a framing error would desynchronise the second one).
func TestFramingMatchesNetHTTP(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 20<<10) // 320 KiB: many buffer fills
	cases := []struct {
		name    string
		method  string
		headers map[string]string
		body    string
		handler http.HandlerFunc
	}{
		{name: "content-length", handler: func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello")
		}},
		{name: "content-length large", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			io.WriteString(w, big)
		}},
		{name: "empty body", handler: func(w http.ResponseWriter, r *http.Request) {}},
		{name: "chunked", handler: func(w http.ResponseWriter, r *http.Request) {
			for i := range 5 {
				fmt.Fprintf(w, "chunk %d;", i)
				w.(http.Flusher).Flush()
			}
		}},
		{name: "chunked large", handler: func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < len(big); i += 7919 {
				io.WriteString(w, big[i:min(i+7919, len(big))])
				w.(http.Flusher).Flush()
			}
		}},
		{name: "chunked with trailers", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Checksum, X-Other")
			io.WriteString(w, "data")
			w.(http.Flusher).Flush()
			io.WriteString(w, "more data")
			w.Header().Set("X-Checksum", "1234")
			w.Header().Set("X-Other", strings.Repeat("t", 100))
		}},
		{name: "204 no content", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		}},
		{name: "304 not modified", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("ETag", `"x"`)
			w.WriteHeader(http.StatusNotModified)
		}},
		{name: "HEAD with content-length", method: http.MethodHead, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			io.WriteString(w, strings.Repeat("x", 1000))
		}},
		{name: "HEAD chunked", method: http.MethodHead, handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Transfer-Encoding", "chunked")
			w.WriteHeader(http.StatusOK)
		}},
		{name: "103 early hints", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, "final")
		}},
		{name: "100 continue", method: http.MethodPost, body: "ping",
			headers: map[string]string{"Expect": "100-continue"},
			handler: func(w http.ResponseWriter, r *http.Request) {
				// Reading the body makes net/http's server send 100 Continue.
				b, _ := io.ReadAll(r.Body)
				w.Write(b)
			}},
		{name: "long header line", handler: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Long", strings.Repeat("v", 3*readBufferSize))
			io.WriteString(w, "ok")
		}},
		{name: "404 with body", handler: func(w http.ResponseWriter, r *http.Request) {
			http.NotFound(w, r)
		}},
		{name: "500 chunked", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, "boom")
			w.(http.Flusher).Flush()
			io.WriteString(w, "!")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()

			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			wantCode, wantBytes := netHTTPDo(t, srv, method, tc.headers, tc.body)

			d := newDriver(t, load.Options{URL: srv.URL + "/x", Method: tc.method, Headers: tc.headers, Body: []byte(tc.body)})
			c := openConn(t, d)
			for i := range 3 {
				out, err := c.Do(context.Background())
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				want := load.Outcome{Code: wantCode, Failed: wantCode >= 400, Bytes: wantBytes}
				if out != want {
					t.Fatalf("request %d: got %+v, net/http got %+v", i, out, want)
				}
			}
		})
	}
}

// netHTTPDo is the oracle: the status and body size net/http's client sees.
func netHTTPDo(t *testing.T, srv *httptest.Server, method string, headers map[string]string, body string) (int, int64) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+"/x", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("net/http: %v", err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		t.Fatalf("net/http: read body: %v", err)
	}
	return resp.StatusCode, n
}

// countingServer starts an httptest server that counts requests and
// connections.
func countingServer(t *testing.T, h http.HandlerFunc, idleTimeout time.Duration) (*httptest.Server, *counter) {
	t.Helper()
	cnt := new(counter)
	srv := httptest.NewUnstartedServer(cnt.wrap(h))
	srv.Config.ConnState = cnt.connState
	srv.Config.IdleTimeout = idleTimeout
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, cnt
}

// TestConnectionClose: every response carries Connection: close, so every
// request needs a new connection (and reports its connect time), and every
// one is answered: the server counts as many requests and connections for
// us as for net/http.
func TestConnectionClose(t *testing.T) {
	const n = 20
	h := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	}

	srv, ours := countingServer(t, h, 0)
	c := openConn(t, newDriver(t, load.Options{URL: srv.URL}))
	for i := range n {
		out, err := c.Do(context.Background())
		if err != nil || out.Code != 200 || out.Bytes != 3 {
			t.Fatalf("request %d: %+v, %v", i, out, err)
		}
		// The first goes on the connection Open made; every other one
		// reconnects and says how long that took.
		if (i == 0) != (out.Connect == 0) {
			t.Errorf("request %d: connect time %v", i, out.Connect)
		}
	}

	srv2, theirs := countingServer(t, h, 0)
	for i := range n {
		resp, err := srv2.Client().Get(srv2.URL)
		if err != nil {
			t.Fatalf("net/http request %d: %v", i, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	if ours.requests.Load() != theirs.requests.Load() || ours.requests.Load() != n {
		t.Errorf("requests: ours %d, net/http %d, want %d", ours.requests.Load(), theirs.requests.Load(), n)
	}
	if ours.conns.Load() != theirs.conns.Load() {
		t.Errorf("connections: ours %d, net/http %d", ours.conns.Load(), theirs.conns.Load())
	}
}

// TestServerClosesIdle: the server drops keep-alive connections after a
// short idle time. The request that finds its connection closed fails (EOF
// or reset) and is not sent again; the next one reconnects, reports its
// connect time, and succeeds. The server sees each successful request once
// and none of the failed ones.
func TestServerClosesIdle(t *testing.T) {
	const n = 5
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			cnt := new(counter)
			srv := httptest.NewUnstartedServer(cnt.wrap(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "ok")
			}))
			srv.Config.ConnState = cnt.connState
			srv.Config.IdleTimeout = 10 * time.Millisecond
			if useTLS {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()
			c := openConn(t, newDriver(t, load.Options{URL: srv.URL, InsecureSkipVerify: true}))
			// The idle timeout applies between requests, not before the
			// first: the first request goes on the connection Open made.
			if out, err := c.Do(context.Background()); err != nil || out.Code != 200 || out.Connect != 0 {
				t.Fatalf("first request: %+v, %v", out, err)
			}
			for i := range n {
				time.Sleep(50 * time.Millisecond) // well past the idle timeout
				out, err := c.Do(context.Background())
				if r := load.Classify(err); r != load.ReasonEOF && r != load.ReasonReset {
					t.Fatalf("request %d on the idle-closed connection: %+v, %v (%q), want an EOF or reset", i, out, err, r)
				}
				if out.Connect != 0 {
					t.Errorf("request %d failed on the old connection but reports a connect time %v", i, out.Connect)
				}
				out, err = c.Do(context.Background())
				if err != nil || out.Code != 200 || out.Connect <= 0 {
					t.Fatalf("request %d after the failure: %+v, %v; want 200 on a new connection, with its connect time", i, out, err)
				}
			}
			if got := cnt.requests.Load(); got != n+1 {
				t.Errorf("server saw %d requests, want %d (the failed ones never reached it)", got, n+1)
			}
			if got := cnt.conns.Load(); got != n+1 {
				t.Errorf("server saw %d connections, want %d", got, n+1)
			}
		})
	}
}

const okResponse = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// TestSentOnce pins down that a request is never sent again, whatever
// happened to its connection: the failure is returned, classified, and the
// next Do reconnects by itself (reporting its connect time) and succeeds.
func TestSentOnce(t *testing.T) {
	cases := []struct {
		name string
		// second is how the server treats the second request on each
		// connection (the first is answered normally).
		second     func(c net.Conn)
		wantErr    error
		wantReason string
	}{
		{
			name:    "closed without answering",
			second:  func(c net.Conn) {},
			wantErr: io.EOF, wantReason: load.ReasonEOF,
		},
		{
			name:    "reset without answering",
			second:  func(c net.Conn) { c.(*net.TCPConn).SetLinger(0) },
			wantErr: syscall.ECONNRESET, wantReason: load.ReasonReset,
		},
		{
			name:    "partial status line",
			second:  func(c net.Conn) { io.WriteString(c, "HTTP/1.1 20") },
			wantErr: io.ErrUnexpectedEOF, wantReason: load.ReasonEOF,
		},
		{
			name:    "headers only",
			second:  func(c net.Conn) { io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n") },
			wantErr: io.ErrUnexpectedEOF, wantReason: load.ReasonEOF,
		},
		{
			name:    "truncated body",
			second:  func(c net.Conn) { io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc") },
			wantErr: io.ErrUnexpectedEOF, wantReason: load.ReasonEOF,
		},
		{
			name:    "truncated chunk",
			second:  func(c net.Conn) { io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nabc") },
			wantErr: io.ErrUnexpectedEOF, wantReason: load.ReasonEOF,
		},
		{
			name: "missing last chunk",
			second: func(c net.Conn) {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
			},
			wantErr: io.ErrUnexpectedEOF, wantReason: load.ReasonEOF,
		},
	}
	for _, tc := range cases {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			t.Run(tc.name+"/"+method, func(t *testing.T) {
				srv := startRaw(t, func(s *rawServer, c net.Conn, br *bufio.Reader, _ int64) {
					for i := 0; s.readRequest(br); i++ {
						if i == 1 {
							tc.second(c)
							return
						}
						io.WriteString(c, okResponse)
					}
				})
				opts := load.Options{URL: srv.url(), Method: method}
				if method == http.MethodPost {
					opts.Body = []byte("payload")
				}
				c := openConn(t, newDriver(t, opts))
				if out, err := c.Do(context.Background()); err != nil || out.Connect != 0 {
					t.Fatalf("first request: %+v, %v; want success on the connection Open made", out, err)
				}
				out, err := c.Do(context.Background())
				if !errors.Is(err, tc.wantErr) || load.Classify(err) != tc.wantReason {
					t.Fatalf("second request: got %+v, %v (%q), want %v (%q)", out, err, load.Classify(err), tc.wantErr, tc.wantReason)
				}
				if out.Connect != 0 {
					t.Errorf("second request failed on the old connection but reports a connect time %v", out.Connect)
				}
				// After an error the Conn reconnects by itself.
				out, err = c.Do(context.Background())
				if err != nil || out.Code != 200 || out.Connect <= 0 {
					t.Errorf("request after the failure: %+v, %v; want 200 with a connect time", out, err)
				}
				if got := srv.conns.Load(); got != 2 {
					t.Errorf("connections: %d, want 2", got)
				}
				if got := srv.requests.Load(); got != 3 {
					t.Errorf("requests: %d, want 3 (none sent twice)", got)
				}
			})
		}
	}
}

// TestSentOnceToSilentCloser: a server that closes every connection without
// answering gets each request exactly once, and each Do after the first
// reports the reconnect it made.
func TestSentOnceToSilentCloser(t *testing.T) {
	const n = 5
	srv := startRaw(t, func(s *rawServer, c net.Conn, br *bufio.Reader, _ int64) {
		s.readRequest(br)
	})
	c := openConn(t, newDriver(t, load.Options{URL: srv.url()}))
	for i := range n {
		out, err := c.Do(context.Background())
		if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("request %d: got %v, want EOF or connection reset", i, err)
		}
		if (i == 0) != (out.Connect == 0) {
			t.Errorf("request %d: connect time %v; want 0 on Open's connection, > 0 on a reconnect", i, out.Connect)
		}
	}
	waitFor(t, func() bool { return srv.requests.Load() >= n })
	time.Sleep(20 * time.Millisecond) // room for a request that should not come
	if got := srv.requests.Load(); got != n {
		t.Errorf("server saw %d requests, want %d", got, n)
	}
	if got := srv.conns.Load(); got != n {
		t.Errorf("server saw %d connections, want %d", got, n)
	}
}

// waitFor polls cond for up to testTimeout.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(testTimeout); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the server")
		}
	}
}

// TestRawFraming covers responses net/http's server does not send.
func TestRawFraming(t *testing.T) {
	cases := []struct {
		name      string
		response  string
		close     bool // the server closes after the response
		want      load.Outcome
		wantConns int64 // after three requests
	}{
		{name: "body until close", response: "HTTP/1.1 200 OK\r\n\r\nhello world", close: true,
			want: load.Outcome{Code: 200, Bytes: 11}, wantConns: 3},
		{name: "unknown transfer coding reads until close", response: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzzz", close: true,
			want: load.Outcome{Code: 200, Bytes: 4}, wantConns: 3},
		{name: "HTTP/1.0 closes by default", response: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
			want: load.Outcome{Code: 200, Bytes: 2}, wantConns: 3},
		{name: "HTTP/1.0 keep-alive", response: "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok",
			want: load.Outcome{Code: 200, Bytes: 2}, wantConns: 1},
		{name: "connection close token list", response: "HTTP/1.1 200 OK\r\nConnection: foo, CLOSE\r\nContent-Length: 2\r\n\r\nok",
			want: load.Outcome{Code: 200, Bytes: 2}, wantConns: 3},
		{name: "chunked with extensions, trailers, upper-case hex", response: "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n" +
			"A;name=value\r\n0123456789\r\n1 \r\nx\r\n0\r\nX-Trailer: 1\r\n\r\n",
			want: load.Outcome{Code: 200, Bytes: 11}, wantConns: 1},
		{name: "bare LF line endings", response: "HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
			want: load.Outcome{Code: 200, Bytes: 2}, wantConns: 1},
		{name: "no reason phrase", response: "HTTP/1.1 503\r\nContent-Length: 0\r\n\r\n",
			want: load.Outcome{Code: 503, Failed: true}, wantConns: 1},
		{name: "repeated identical content-length", response: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
			want: load.Outcome{Code: 200, Bytes: 2}, wantConns: 1},
		{name: "both framings: chunked wins, connection not reused", response: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
			want: load.Outcome{Code: 200, Bytes: 2}, wantConns: 3},
		{name: "interim responses", response: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + okResponse,
			want: load.Outcome{Code: 200, Bytes: 2}, wantConns: 1},
		{name: "folded header line is ignored", response: "HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\nok",
			want: load.Outcome{Code: 200, Bytes: 2}, wantConns: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startRaw(t, func(s *rawServer, c net.Conn, br *bufio.Reader, _ int64) {
				for s.readRequest(br) {
					io.WriteString(c, tc.response)
					if tc.close {
						return
					}
				}
			})
			c := openConn(t, newDriver(t, load.Options{URL: srv.url()}))
			for i := range 3 {
				out, err := c.Do(context.Background())
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				// A request after a response that ended its connection
				// reconnects, and says how long that took.
				reconnect := i > 0 && tc.wantConns > 1
				if (out.Connect > 0) != reconnect {
					t.Errorf("request %d: connect time %v, want one: %v", i, out.Connect, reconnect)
				}
				out.Connect = 0
				if out != tc.want {
					t.Fatalf("request %d: got %+v, want %+v", i, out, tc.want)
				}
			}
			if got := srv.conns.Load(); got != tc.wantConns {
				t.Errorf("connections: %d, want %d", got, tc.wantConns)
			}
			if got := srv.requests.Load(); got != 3 {
				t.Errorf("requests: %d, want 3", got)
			}
		})
	}
}

// TestMalformed: responses that break HTTP/1.1 framing give an error that
// says so, and the Conn recovers on the next request.
func TestMalformed(t *testing.T) {
	cases := map[string]string{
		"not HTTP":                   "SSH-2.0-OpenSSH_9.6\r\n",
		"HTTP/2 status line":         "HTTP/2 200 OK\r\n\r\n",
		"short status line":          "HTTP/1.1 20\r\n\r\n",
		"bad status code":            "HTTP/1.1 2x0 OK\r\n\r\n",
		"status code below 100":      "HTTP/1.1 099 Huh\r\n\r\n",
		"no space after code":        "HTTP/1.1 200OK\r\n\r\n",
		"switching protocols":        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
		"header without colon":       "HTTP/1.1 200 OK\r\nContent-Length 2\r\n\r\nok",
		"space before colon":         "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",
		"empty header name":          "HTTP/1.1 200 OK\r\n: x\r\n\r\n",
		"negative content-length":    "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"non-numeric length":         "HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n",
		"huge content-length":        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"conflicting lengths":        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
		"folded content-length":      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n 3\r\n\r\nok",
		"bad chunk size":             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"empty chunk size":           "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
		"negative chunk size":        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
		"overflowing chunk size":     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
		"chunk longer than its size": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
		"bad trailer":                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nno colon\r\n\r\n",
		"long content-length line":   "HTTP/1.1 200 OK\r\nContent-Length: " + strings.Repeat("0", 2*readBufferSize) + "1\r\n\r\n",
		"long status line":           "HTTP/1.1 200 " + strings.Repeat("O", 2*readBufferSize) + "\r\n\r\n",
		"too many interim":           strings.Repeat("HTTP/1.1 103 Early Hints\r\n\r\n", maxInterim+1) + okResponse,
		"header section too large":   "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-A: "+strings.Repeat("a", 1000)+"\r\n", maxHeaderBytes/1000) + "\r\n",
	}
	for name, response := range cases {
		t.Run(name, func(t *testing.T) {
			srv := startRaw(t, func(s *rawServer, c net.Conn, br *bufio.Reader, n int64) {
				for s.readRequest(br) {
					if n == 1 {
						io.WriteString(c, response)
					} else {
						io.WriteString(c, okResponse)
					}
				}
			})
			c := openConn(t, newDriver(t, load.Options{URL: srv.url()}))
			_, err := c.Do(context.Background())
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("got %v, want an error wrapping ErrMalformedResponse", err)
			}
			t.Log(err)
			if !strings.HasPrefix(err.Error(), "http1: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			if out, err := c.Do(context.Background()); err != nil || out.Code != 200 {
				t.Errorf("request after the malformed response: %+v, %v", out, err)
			}
		})
	}
}

// TestStatusFailed: Failed is set exactly for status >= 400.
func TestStatusFailed(t *testing.T) {
	for _, code := range []int{200, 201, 302, 399, 400, 404, 429, 500, 503} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(code)
				io.WriteString(w, "body")
			}))
			defer srv.Close()
			c := openConn(t, newDriver(t, load.Options{URL: srv.URL}))
			out, err := c.Do(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := load.Outcome{Code: code, Failed: code >= 400, Bytes: 4}
			if out != want {
				t.Errorf("got %+v, want %+v", out, want)
			}
		})
	}
}

// TestRequestAsSet: what the options say arrives at the server.
func TestRequestAsSet(t *testing.T) {
	type seen struct {
		method, uri, host, userAgent, contentType, body, xTest, auth string
		contentLength                                                int64
		cookies                                                      map[string]string
	}
	cases := []struct {
		name string
		opts load.Options
		want seen
	}{
		{
			name: "GET defaults",
			opts: load.Options{URL: "/path?q=1&r=two"},
			want: seen{method: "GET", uri: "/path?q=1&r=two", userAgent: "smp", cookies: map[string]string{}},
		},
		{
			name: "POST with everything",
			opts: load.Options{
				URL:         "/submit",
				Headers:     map[string]string{"x-test": "yes", "Host": "example.test", "Cookie": "pre=0"},
				Cookies:     map[string]string{"session": "abc123", "b": "two words"},
				Body:        []byte(`{"k":"v"}`),
				ContentType: "application/json",
			},
			want: seen{method: "POST", uri: "/submit", host: "example.test", userAgent: "smp",
				contentType: "application/json", body: `{"k":"v"}`, xTest: "yes", contentLength: 9,
				cookies: map[string]string{"pre": "0", "session": "abc123", "b": "two words"}},
		},
		{
			name: "explicit method and user agent, empty PUT",
			opts: load.Options{URL: "/r", Method: "PUT", Headers: map[string]string{"User-Agent": "custom/1"}},
			want: seen{method: "PUT", uri: "/r", userAgent: "custom/1", cookies: map[string]string{}},
		},
		{
			name: "basic auth from the URL",
			opts: load.Options{URL: "/a"},
			want: seen{method: "GET", uri: "/a", userAgent: "smp", auth: "user:pa ss", cookies: map[string]string{}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan seen, 10)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				s := seen{method: r.Method, uri: r.RequestURI, host: r.Host, userAgent: r.UserAgent(),
					contentType: r.Header.Get("Content-Type"), body: string(b), xTest: r.Header.Get("X-Test"),
					contentLength: r.ContentLength, cookies: map[string]string{}}
				if u, p, ok := r.BasicAuth(); ok {
					s.auth = u + ":" + p
				}
				for _, c := range r.Cookies() {
					s.cookies[c.Name] = c.Value
				}
				got <- s
			}))
			defer srv.Close()
			opts := tc.opts
			opts.URL = srv.URL + opts.URL
			if tc.want.auth != "" {
				opts.URL = strings.Replace(opts.URL, "http://", "http://user:pa%20ss@", 1)
			}
			want := tc.want
			if want.host == "" {
				want.host = strings.TrimPrefix(srv.URL, "http://")
			}
			c := openConn(t, newDriver(t, opts))
			for range 2 { // the same request each time
				out, err := c.Do(context.Background())
				if err != nil || out.Code != 200 {
					t.Fatalf("%+v, %v", out, err)
				}
				if s := <-got; fmt.Sprint(s) != fmt.Sprint(want) {
					t.Errorf("server saw\n%+v\nwant\n%+v", s, want)
				}
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	cases := map[string]load.Options{
		"bad scheme":            {URL: "ftp://127.0.0.1/"},
		"no host":               {URL: "http:///path"},
		"unparsable URL":        {URL: "http://127.0.0.1:port/"},
		"bad method":            {URL: "http://127.0.0.1/", Method: "GET /x"},
		"CONNECT":               {URL: "http://127.0.0.1/", Method: "CONNECT"},
		"bad header name":       {URL: "http://127.0.0.1/", Headers: map[string]string{"X Bad": "1"}},
		"header injection":      {URL: "http://127.0.0.1/", Headers: map[string]string{"X-A": "1\r\nX-B: 2"}},
		"content-length header": {URL: "http://127.0.0.1/", Headers: map[string]string{"Content-Length": "5"}},
		"transfer-encoding":     {URL: "http://127.0.0.1/", Headers: map[string]string{"transfer-encoding": "chunked"}},
		"duplicate header":      {URL: "http://127.0.0.1/", Headers: map[string]string{"x-a": "1", "X-A": "2"}},
		"two content types":     {URL: "http://127.0.0.1/", ContentType: "a/b", Headers: map[string]string{"Content-Type": "c/d"}},
		"bad cookie name":       {URL: "http://127.0.0.1/", Cookies: map[string]string{"a;b": "1"}},
		"bad cookie value":      {URL: "http://127.0.0.1/", Cookies: map[string]string{"a": "x;y"}},
		"bad host header":       {URL: "http://127.0.0.1/", Headers: map[string]string{"Host": "a b"}},
		"negative timeout":      {URL: "http://127.0.0.1/", Timeout: -time.Second},
		"missing CA file":       {URL: "https://127.0.0.1/", CAFile: "/nonexistent/ca.pem"},
		"cert without key":      {URL: "https://127.0.0.1/", CertFile: "/nonexistent/cert.pem"},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			if d, err := New(opts); err == nil {
				d.Close()
				t.Fatalf("New(%+v) succeeded", opts)
			} else if !strings.HasPrefix(err.Error(), "http1: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
	t.Run("CA file without certificates", func(t *testing.T) {
		path := writePEM(t, "empty.pem")
		if _, err := New(load.Options{URL: "https://127.0.0.1/", CAFile: path}); err == nil {
			t.Fatal("New succeeded")
		}
	})
}

func TestTLS(t *testing.T) {
	type seen struct {
		proto, peer string
	}
	got := make(chan seen, 10)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{proto: r.TLS.NegotiatedProtocol}
		if len(r.TLS.PeerCertificates) > 0 {
			s.peer = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		got <- s
		io.WriteString(w, "secure")
	}))
	clientCert, certFile, keyFile := clientCert(t)
	pool := x509.NewCertPool()
	pool.AddCert(clientCert)
	srv.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failing handshake below is expected
	srv.StartTLS()
	defer srv.Close()
	caFile := writePEM(t, "ca.pem", &pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})

	ok := []struct {
		name     string
		opts     load.Options
		wantPeer string
	}{
		{name: "CA file", opts: load.Options{CAFile: caFile}},
		{name: "insecure skip verify", opts: load.Options{InsecureSkipVerify: true}},
		{name: "client certificate", opts: load.Options{CAFile: caFile, CertFile: certFile, KeyFile: keyFile}, wantPeer: "smp-client"},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.URL = srv.URL
			c := openConn(t, newDriver(t, opts))
			for range 2 {
				out, err := c.Do(context.Background())
				if err != nil || out != (load.Outcome{Code: 200, Bytes: 6}) {
					t.Fatalf("%+v, %v", out, err)
				}
				if s := <-got; s != (seen{proto: "http/1.1", peer: tc.wantPeer}) {
					t.Errorf("server saw %+v", s)
				}
			}
		})
	}

	t.Run("unknown authority", func(t *testing.T) {
		d := newDriver(t, load.Options{URL: srv.URL})
		_, err := d.Open(context.Background())
		var verr *tls.CertificateVerificationError
		var uerr x509.UnknownAuthorityError
		if !errors.As(err, &verr) || !errors.As(err, &uerr) {
			t.Fatalf("got %v (%T), want a certificate verification error", err, errors.Unwrap(err))
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
	d := newDriver(t, load.Options{URL: url})
	if _, err := d.Open(context.Background()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Open: got %v, want ECONNREFUSED", err)
	}
}

// TestServerGoesAway: once the server is gone the Conn reports the failure
// and then, trying to reconnect, a refused connection.
func TestServerGoesAway(t *testing.T) {
	srv := startRaw(t, func(s *rawServer, c net.Conn, br *bufio.Reader, _ int64) {
		for s.readRequest(br) {
			io.WriteString(c, okResponse)
		}
	})
	c := openConn(t, newDriver(t, load.Options{URL: srv.url()}))
	if _, err := c.Do(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.close()
	var err error
	for range 3 { // the first may fail otherwise (reset, EOF) before the refusal
		var out load.Outcome
		if out, err = c.Do(context.Background()); errors.Is(err, syscall.ECONNREFUSED) {
			// The failed reconnect is reported with the time it took.
			if out.Connect <= 0 {
				t.Errorf("refused reconnect: connect time %v, want > 0", out.Connect)
			}
			return
		}
		if err == nil {
			t.Fatal("request to a closed server succeeded")
		}
	}
	t.Fatalf("got %v, want ECONNREFUSED", err)
}

// silentServer accepts connections and reads requests but never answers.
func silentServer(t *testing.T) *rawServer {
	return startRaw(t, func(s *rawServer, c net.Conn, br *bufio.Reader, _ int64) {
		for s.readRequest(br) {
		}
	})
}

func TestTimeout(t *testing.T) {
	srv := silentServer(t)
	c := openConn(t, newDriver(t, load.Options{URL: srv.url(), Timeout: 100 * time.Millisecond}))
	start := time.Now()
	_, err := c.Do(context.Background())
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("got %v, want os.ErrDeadlineExceeded", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 5*time.Second {
		t.Errorf("timed out after %v, want about 100ms", d)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("server saw %d requests; a timeout must not be retried", n)
	}
}

// TestCancel: cancelling the run's context interrupts a request in flight
// long before its timeout.
func TestCancel(t *testing.T) {
	srv := silentServer(t)
	c := openConn(t, newDriver(t, load.Options{URL: srv.url(), Timeout: time.Minute}))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Do(ctx)
	if !errors.Is(err, context.Canceled) || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("got %v, want context.Canceled and no timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancellation took %v", d)
	}
	if _, err := c.Do(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Do with a cancelled context: got %v", err)
	}
	// A new run's context works again on the same Conn.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := c.Do(ctx2); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Do with a second context: got %v, want its deadline", err)
	}
}

func TestClose(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	d := newDriver(t, load.Options{URL: srv.URL})
	c := openConn(t, d)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.Do(context.Background()); err == nil {
		t.Error("Do after Close succeeded")
	}
	d.Close()
	if _, err := d.Open(context.Background()); err == nil {
		t.Error("Open after the driver's Close succeeded")
	}
}
