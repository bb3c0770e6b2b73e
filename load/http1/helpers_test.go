package http1

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smp-project/smp/load"
)

// testTimeout bounds every network wait in these tests, so that a bug shows
// up as a failure rather than a hang.
const testTimeout = 10 * time.Second

func newDriver(t *testing.T, opts load.Options) *Driver {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = testTimeout
	}
	d, err := New(opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
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

// rawServer is a TCP server on 127.0.0.1 whose connections are served by a
// test-supplied function speaking HTTP/1.1 by hand, for the responses
// net/http would never send.
type rawServer struct {
	ln       net.Listener
	addr     string
	conns    atomic.Int64 // connections accepted
	requests atomic.Int64 // requests read with readRequest

	wg   sync.WaitGroup
	mu   sync.Mutex
	open []net.Conn
}

// startRaw serves each accepted connection with serve(s, conn, reader, n),
// n counting connections from 1. The server stops at the end of the test.
func startRaw(t *testing.T, serve func(s *rawServer, c net.Conn, br *bufio.Reader, n int64)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln, addr: ln.Addr().String()}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // the listener was closed
			}
			n := s.conns.Add(1)
			c.SetDeadline(time.Now().Add(testTimeout))
			s.mu.Lock()
			s.open = append(s.open, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				serve(s, c, bufio.NewReader(c), n)
			}()
		}
	}()
	t.Cleanup(s.close)
	return s
}

// close stops accepting, closes every connection and waits for the
// serving goroutines.
func (s *rawServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.open {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *rawServer) url() string { return "http://" + s.addr + "/" }

// readRequest reads one request with its body and counts it.
func (s *rawServer) readRequest(br *bufio.Reader) bool {
	req, err := http.ReadRequest(br)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, req.Body)
	s.requests.Add(1)
	return true
}

// countingHandler wraps h to count requests, and its server's ConnState to
// count connections.
type counter struct {
	requests, conns atomic.Int64
}

func (c *counter) wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c.requests.Add(1)
		h(w, r)
	}
}

func (c *counter) connState(_ net.Conn, st http.ConnState) {
	if st == http.StateNew {
		c.conns.Add(1)
	}
}

// writePEM writes the blocks to a new file in the test's temp dir.
func writePEM(t *testing.T, name string, blocks ...*pem.Block) string {
	t.Helper()
	var b bytes.Buffer
	for _, blk := range blocks {
		pem.Encode(&b, blk)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// clientCert makes a self-signed client certificate and returns it parsed
// and as PEM files.
func clientCert(t *testing.T) (cert *x509.Certificate, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "smp-client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writePEM(t, "client.pem", &pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyFile = writePEM(t, "client-key.pem", &pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	return cert, certFile, keyFile
}

// cannedServer answers every request on every connection with response,
// without allocating, so that allocation counts and benchmarks measure the
// client alone. Requests must be bodiless: they end at the first empty line.
func cannedServer(tb testing.TB, response []byte) string {
	tb.Helper()
	return cannedTLSServer(tb, response, nil)
}

// cannedTLSServer is cannedServer over TLS when cfg is not nil.
func cannedTLSServer(tb testing.TB, response []byte, cfg *tls.Config) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			if cfg != nil {
				c = tls.Server(c, cfg)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serveCanned(c, response)
			}()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// serveCanned writes one response per "\r\n\r\n" read, tracking a match
// that straddles two reads.
func serveCanned(c net.Conn, response []byte) {
	const end = "\r\n\r\n"
	buf := make([]byte, 16<<10)
	matched := 0
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		pending := 0
		for _, b := range buf[:n] {
			switch {
			case b == end[matched]:
				matched++
			case b == end[0]:
				matched = 1
			default:
				matched = 0
			}
			if matched == len(end) {
				pending++
				matched = 0
			}
		}
		for range pending {
			if _, err := c.Write(response); err != nil {
				return
			}
		}
	}
}
