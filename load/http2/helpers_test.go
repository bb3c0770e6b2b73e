package http2

import (
	"context"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/load/internal/h2/h2test"
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

// counter counts a server's requests and TCP connections.
type counter struct {
	requests, conns, closed atomic.Int64
}

func (c *counter) connState(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		c.conns.Add(1)
	case http.StateClosed, http.StateHijacked:
		c.closed.Add(1)
	}
}

// h2Server starts a server on 127.0.0.1 speaking HTTP/2: h2c with prior
// knowledge, or TLS with ALPN h2 when tls is set. configure, if given, may
// change the server before it starts.
func h2Server(t *testing.T, tls bool, h http.HandlerFunc, configure ...func(*http.Server)) (*httptest.Server, *counter) {
	t.Helper()
	cnt := new(counter)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cnt.requests.Add(1)
		h(w, r)
	}))
	srv.Config.ConnState = cnt.connState
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // failures are the tests' business
	for _, f := range configure {
		f(srv.Config)
	}
	if tls {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Config.Protocols = new(http.Protocols)
		srv.Config.Protocols.SetHTTP1(true)
		srv.Config.Protocols.SetUnencryptedHTTP2(true)
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, cnt
}

// caFile writes the server's certificate as a PEM file to trust.
func caFile(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
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

// cannedH2Server is an h2c server that answers every request with the
// same 200 response and allocates nothing per request (h2test.Canned).
func cannedH2Server(tb testing.TB, body []byte) string {
	return h2test.Canned(tb, h2test.Response{
		Fields: []hpack.HeaderField{
			{Name: ":status", Value: "200"},
			{Name: "content-type", Value: "text/plain"},
			{Name: "content-length", Value: strconv.Itoa(len(body))},
		},
		Body: body,
	})
}
