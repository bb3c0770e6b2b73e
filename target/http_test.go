package target

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// httpTargets starts a plain and a TLS target and returns, per HTTP
// flavour, a client and base URL: keep-alive HTTP/1.1, h2c, HTTP/1.1 over
// TLS and HTTP/2 over TLS.
func httpTargets(t *testing.T, cfg Config) map[string]func() (*http.Client, string) {
	t.Helper()
	cfg.HTTP = anyPort
	plain := startTarget(t, cfg)
	cfg.TLS = true
	secure := startTarget(t, cfg)
	return map[string]func() (*http.Client, string){
		"http1": func() (*http.Client, string) { return httpClient(t, "http1", plain) },
		"h2c":   func() (*http.Client, string) { return httpClient(t, "h2c", plain) },
		"h2":    func() (*http.Client, string) { return httpClient(t, "h2", secure) },
		"https1": func() (*http.Client, string) {
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(secure.CertPEM())
			tr := &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: pool},
				TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{}, // no h2
			}
			t.Cleanup(tr.CloseIdleConnections)
			return &http.Client{Transport: tr, Timeout: 10 * time.Second}, "https://" + secure.Addrs().HTTP
		},
	}
}

func flavours() []string { return []string{"http1", "h2c", "https1", "h2"} }

func TestHTTPBehaviour(t *testing.T) {
	targets := httpTargets(t, Config{Defaults: Behavior{Size: 7}})
	tests := []struct {
		name       string
		path       string
		hdr        map[string]string
		status     int
		size       int    // -1: don't check
		bodyHas    string // substring of the body
		unknown    string // X-Smp-Unknown-Params
		wantHeader bool
	}{
		{name: "defaults", path: "/", status: 200, size: 7},
		{name: "size", path: "/any/path?size=1024", status: 200, size: 1024},
		{name: "large size", path: "/?size=200000", status: 200, size: 200000},
		{name: "zero size", path: "/?size=0", status: 200, size: 0},
		{name: "status", path: "/?status=418", status: 418, size: 7},
		{name: "status 204 has no body", path: "/?status=204", status: 204, size: 0},
		{name: "error status", path: "/?error=1", status: 500, bodyHas: "injected error"},
		{name: "no error", path: "/?error=0", status: 200, size: 7},
		{name: "header override", path: "/", hdr: map[string]string{"X-Smp-Size": "10", "X-Smp-Status": "201"}, status: 201, size: 10},
		{name: "query wins over header", path: "/?size=3", hdr: map[string]string{"X-Smp-Size": "10"}, status: 200, size: 3},
		{name: "unknown params listed", path: "/?dealy=2ms&size=2&foo=1&foo=2", status: 200, size: 2, unknown: "dealy,foo"},
		{name: "unknown header listed", path: "/", hdr: map[string]string{"X-Smp-Sise": "1"}, status: 200, size: 7, unknown: "x-smp-sise"},
		{name: "escaped unknown", path: "/?a%0d%0ab=1", status: 200, size: 7, unknown: "a%0D%0Ab"},
		{name: "bad size", path: "/?size=-5", status: 400, bodyHas: "invalid size"},
		{name: "bad delay", path: "/?delay=normal:1ms", status: 400, bodyHas: "unknown distribution"},
		{name: "bad status", path: "/?status=42", status: 400, bodyHas: "200 to 599"},
		{name: "bad error", path: "/?error=2", status: 400, bodyHas: "from 0 to 1"},
		{name: "bad header", path: "/", hdr: map[string]string{"X-Smp-Delay": "soon"}, status: 400, bodyHas: "x-smp-delay"},
		{name: "metrics path", path: "/metrics", status: 200, size: -1, bodyHas: "smp_target_requests_total"},
		{name: "stats path", path: "/_smp/stats", status: 200, size: -1, bodyHas: `"requests"`},
		{name: "control off", path: "/_smp/defaults", status: 403, bodyHas: "--control"},
		{name: "not control", path: "/_smpx", status: 200, size: 7},
	}
	for _, fl := range flavours() {
		t.Run(fl, func(t *testing.T) {
			c, base := targets[fl]()
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					status, body, h := get(t, c, base+tt.path, tt.hdr)
					if status != tt.status {
						t.Fatalf("status %d, want %d (body %q)", status, tt.status, body)
					}
					if tt.size >= 0 && len(body) != tt.size && tt.bodyHas == "" {
						t.Errorf("body of %d bytes, want %d", len(body), tt.size)
					}
					if !bytes.Contains(body, []byte(tt.bodyHas)) {
						t.Errorf("body %q does not contain %q", body, tt.bodyHas)
					}
					if got := h.Get(unknownHeader); got != tt.unknown {
						t.Errorf("%s = %q, want %q", unknownHeader, got, tt.unknown)
					}
				})
			}
		})
	}
}

func TestHTTPEcho(t *testing.T) {
	targets := httpTargets(t, Config{})
	payload := bytes.Repeat([]byte("echo me "), 5000)
	for _, fl := range flavours() {
		t.Run(fl, func(t *testing.T) {
			c, base := targets[fl]()
			for _, chunked := range []bool{false, true} {
				var body io.Reader = bytes.NewReader(payload)
				if chunked {
					body = io.MultiReader(body) // unknown length: chunked on HTTP/1.1
				}
				resp, err := c.Post(base+"/?echo=1", "application/octet-stream", body)
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != 200 || !bytes.Equal(got, payload) {
					t.Errorf("chunked=%v: status %d, %d bytes echoed of %d", chunked, resp.StatusCode, len(got), len(payload))
				}
			}
			// Without echo, a body is read and dropped, and the
			// connection stays usable.
			resp, err := c.Post(base+"/?size=4", "text/plain", strings.NewReader("ignored"))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if len(got) != 4 {
				t.Errorf("non-echo POST: %d bytes", len(got))
			}
		})
	}
}

// TestHTTPFixedDelay checks a fixed delay end to end: the median latency
// is within 10% above the configured delay, and no response is early.
func TestHTTPFixedDelay(t *testing.T) {
	const delay = 20 * time.Millisecond
	targets := httpTargets(t, Config{Defaults: Behavior{Delay: FixedDelay(delay)}})
	for _, fl := range flavours() {
		t.Run(fl, func(t *testing.T) {
			c, base := targets[fl]()
			get(t, c, base+"/?delay=0", nil) // connect first
			var lat []time.Duration
			for range 30 {
				start := time.Now()
				get(t, c, base+"/", nil)
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			if lat[0] < delay {
				t.Errorf("fastest response %v, before the %v delay", lat[0], delay)
			}
			if med := lat[len(lat)/2]; med > delay+delay/10 {
				t.Errorf("median %v, want within 10%% of %v", med, delay)
			}
			// A per-request override.
			start := time.Now()
			get(t, c, base+"/?delay=40ms", nil)
			if el := time.Since(start); el < 40*time.Millisecond {
				t.Errorf("delay=40ms answered in %v", el)
			}
		})
	}
}

func TestHTTPReset(t *testing.T) {
	targets := httpTargets(t, Config{})
	for _, fl := range flavours() {
		t.Run(fl, func(t *testing.T) {
			c, base := targets[fl]()
			_, err := c.Get(base + "/?error=reset:1")
			if err == nil {
				t.Fatal("no error from a reset")
			}
			if fl == "http1" && !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("got %v, want connection reset", err)
			}
			// The server goes on serving.
			if status, _, _ := get(t, c, base+"/", nil); status != 200 {
				t.Errorf("after reset: status %d", status)
			}
		})
	}
}

// TestHTTP1Raw exercises what net/http's client does not: pipelining,
// HTTP/1.0, HEAD, Expect: 100-continue and a malformed request.
func TestHTTP1Raw(t *testing.T) {
	s := startTarget(t, Config{HTTP: anyPort, Defaults: Behavior{Size: 3}})
	tests := []struct {
		name, send string
		want       []string // in order, in the raw response stream
	}{
		{"pipelined", "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /?size=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /?status=404 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			[]string{"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n", "xxx", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n", "HTTP/1.1 404 Not Found\r\n", "Connection: close\r\n"}},
		{"http/1.0", "GET / HTTP/1.0\r\n\r\n", []string{"HTTP/1.1 200 OK\r\n", "Connection: close\r\n"}},
		{"http/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n", []string{"Connection: keep-alive\r\n", "Connection: close\r\n"}},
		{"head", "HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", []string{"Content-Length: 3\r\n"}},
		{"expect", "POST /?echo=1 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi", []string{"HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 200 OK\r\n", "\r\n\r\nhi"}},
		{"malformed", "GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", []string{"HTTP/1.1 400 Bad Request\r\n", "Connection: close\r\n"}},
		{"unsupported version", "GET / HTTP/1.2\r\n\r\n", []string{"HTTP/1.1 505 "}},
		// RFC 9112 §3.2: no Host in HTTP/1.1, or two in any version: 400.
		{"no host", "GET / HTTP/1.1\r\n\r\n", []string{"HTTP/1.1 400 Bad Request\r\n", "Connection: close\r\n", "Host header"}},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", []string{"HTTP/1.1 400 Bad Request\r\n", "more than one Host"}},
		{"two hosts http/1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", []string{"HTTP/1.1 400 Bad Request\r\n"}},
		{"control page without host", "GET /_smp/stats HTTP/1.1\r\n\r\n", []string{"HTTP/1.1 400 Bad Request\r\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rawExchange(t, s.Addrs().HTTP, tt.send)
			rest := got
			for _, w := range tt.want {
				w = strings.ReplaceAll(w, "xxx", "smp")
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("response %q lacks %q (in order)", got, w)
				}
				rest = rest[i+len(w):]
			}
			if tt.name == "head" && !strings.HasSuffix(got, "\r\n\r\n") {
				t.Errorf("HEAD response has a body: %q", got)
			}
		})
	}
}

// rawExchange writes send and reads until the server closes.
func rawExchange(t *testing.T, addr, send string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, send); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v (after %q)", err, got)
	}
	return string(got)
}

// TestH2CUpgrade upgrades an HTTP/1.1 connection with "Upgrade: h2c" and
// reads the answer to the upgrade request on stream 1.
func TestH2CUpgrade(t *testing.T) {
	s := startTarget(t, Config{HTTP: anyPort})
	c, err := net.Dial("tcp", s.Addrs().HTTP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, err = io.WriteString(c, "GET /?size=5&status=202 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 101 ") {
		t.Fatalf("upgrade answer %q, %v", line, err)
	}
	for line != "\r\n" {
		if line, err = br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, br)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var status string
	var body []byte
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		if f.Name == ":status" {
			status = f.Value
		}
	})
	for range 20 {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("read frame: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.HeadersFrame:
			if _, err := dec.Write(f.HeaderBlockFragment()); err != nil {
				t.Fatal(err)
			}
		case *http2.DataFrame:
			body = append(body, f.Data()...)
			if f.StreamEnded() {
				if status != "202" || len(body) != 5 {
					t.Errorf("stream 1: status %q, %d bytes; want 202 and 5", status, len(body))
				}
				return
			}
		}
	}
	t.Fatal("no response on stream 1")
}
