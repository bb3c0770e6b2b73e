package http2

import (
	"bufio"
	"bytes"
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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

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

// cannedH2Server is a minimal h2c server that answers every request with
// the same response, built on the x/net framer so that it costs little and
// allocates little: benchmarks then measure the clients.
func cannedH2Server(tb testing.TB, body []byte) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	enc.WriteField(hpack.HeaderField{Name: "content-type", Value: "text/plain"})
	enc.WriteField(hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(len(body))})
	block := hbuf.Bytes()

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
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serveCannedH2(c, block, body)
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

// serveCannedH2 answers each request stream once the client has ended it.
// The header block is literal fields with indexing, so sending the same
// bytes each time is valid: the client's decoder adds and evicts the same
// entries.
func serveCannedH2(c net.Conn, block, body []byte) {
	br := bufio.NewReaderSize(c, 16<<10)
	bw := bufio.NewWriterSize(c, 16<<10)
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(br, preface); err != nil || string(preface) != http2.ClientPreface {
		return
	}
	fr := http2.NewFramer(bw, br)
	fr.SetReuseFrames()
	respond := func(id uint32) {
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndHeaders: true, EndStream: len(body) == 0})
		if len(body) > 0 {
			fr.WriteData(id, true, body)
		}
	}
	fr.WriteSettings()
	bw.Flush()
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				fr.WritePing(true, f.Data)
			}
		case *http2.HeadersFrame:
			if f.StreamEnded() {
				respond(f.StreamID)
			}
		case *http2.DataFrame:
			if n := f.Length; n > 0 {
				fr.WriteWindowUpdate(0, n)
			}
			if f.StreamEnded() {
				respond(f.StreamID)
			}
		case *http2.GoAwayFrame:
			bw.Flush()
			return
		}
		// Write when there is nothing more to read, batching responses.
		if br.Buffered() == 0 {
			if bw.Flush() != nil {
				return
			}
		}
	}
}
