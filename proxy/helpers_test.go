package proxy

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/smp-project/smp/proxy/filter"
	"github.com/smp-project/smp/target"
)

// startTarget starts the built-in target on 127.0.0.1 and returns its
// HTTP address.
func startTarget(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := target.Start(ctx, target.Config{HTTP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); srv.Close() })
	return srv.Addrs().HTTP
}

// startProxy starts a proxy to upstream with the given filters (specs in
// --filter syntax) and returns it.
func startProxy(t *testing.T, upstream string, specs ...string) *Server {
	t.Helper()
	var fs []filter.Filter
	for i, s := range specs {
		f, err := filter.Parse(s, i+1)
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	return startProxyFilters(t, upstream, fs...)
}

func startProxyFilters(t *testing.T, upstream string, fs ...filter.Filter) *Server {
	t.Helper()
	srv, err := Start(context.Background(), Config{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", Upstream: upstream, Filters: fs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// h1 and h2c are clients of each protocol.
func h1() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}

func h2c() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Protocols: &p, TLSClientConfig: &tls.Config{}}}
}

type answer struct {
	status int
	header http.Header
	body   string
	proto  string
}

func do(t *testing.T, c *http.Client, method, url string, body string, hdr ...string) answer {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b), resp.Proto}
}

func purl(s *Server, path string) string { return "http://" + s.Addr().String() + path }

func adminURL(s *Server, path string) string {
	return "http://" + s.AdminAddr().(*net.TCPAddr).String() + path
}
