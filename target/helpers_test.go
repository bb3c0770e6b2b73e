package target

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	targetpb "github.com/smp-project/smp/target/proto"
)

// any loopback port
const anyPort = "127.0.0.1:0"

// startTarget starts a target for one test and closes it at the end.
func startTarget(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// httpClient returns a client for one HTTP flavour: "http1" (keep-alive
// HTTP/1.1), "h2c" (HTTP/2 prior knowledge), "h2" (HTTP/2 over TLS; the
// server must have TLS).
func httpClient(t *testing.T, flavour string, s *Server) (*http.Client, string) {
	t.Helper()
	switch flavour {
	case "http1":
		return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second},
			"http://" + s.Addrs().HTTP
	case "h2c":
		tr := &http2.Transport{
			AllowHTTP: true,
			DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			},
		}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}, "http://" + s.Addrs().HTTP
	case "h2":
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(s.CertPEM()) {
			t.Fatal("no certificate")
		}
		tr := &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}, "https://" + s.Addrs().HTTP
	}
	t.Fatalf("unknown flavour %q", flavour)
	return nil, ""
}

// get performs a request and returns status, body and headers.
func get(t *testing.T, c *http.Client, url string, hdr map[string]string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, body, resp.Header
}

func grpcClient(t *testing.T, s *Server) (*grpc.ClientConn, targetpb.EchoClient) {
	t.Helper()
	cc, err := grpc.NewClient(s.Addrs().GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc, targetpb.NewEchoClient(cc)
}

func certPool(t *testing.T, s *Server) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CertPEM()) {
		t.Fatal("no certificate")
	}
	return pool
}
