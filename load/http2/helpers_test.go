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
// the same response. It is written on bare frames so that it allocates
// nothing per request: the allocation tests and benchmarks then measure the
// client alone.
func cannedH2Server(tb testing.TB, body []byte) string {
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
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serveCannedH2(c, body)
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
// Like Go's own server it indexes its response fields: the first response
// adds them to the client's HPACK table, the later ones refer to them.
func serveCannedH2(c net.Conn, body []byte) {
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	fields := []hpack.HeaderField{
		{Name: ":status", Value: "200"},
		{Name: "content-type", Value: "text/plain"},
		{Name: "content-length", Value: strconv.Itoa(len(body))},
	}
	encode := func() []byte {
		hbuf.Reset()
		for _, f := range fields {
			enc.WriteField(f)
		}
		return bytes.Clone(hbuf.Bytes())
	}
	first, block := encode(), encode()

	br := bufio.NewReaderSize(c, 64<<10)
	bw := bufio.NewWriterSize(c, 64<<10)
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(br, preface); err != nil || string(preface) != http2.ClientPreface {
		return
	}
	var fh [9]byte
	put := func(length int, typ, flags byte, id uint32) {
		fh = [9]byte{byte(length >> 16), byte(length >> 8), byte(length), typ, flags,
			byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}
		bw.Write(fh[:])
	}
	respond := func(id uint32) {
		b := block
		if first != nil {
			b, first = first, nil
		}
		flags := byte(0x4) // END_HEADERS
		if len(body) == 0 {
			flags |= 0x1
		}
		put(len(b), 0x1, flags, id)
		bw.Write(b)
		if len(body) > 0 {
			put(len(body), 0x0, 0x1, id)
			bw.Write(body)
		}
	}
	put(0, 0x4, 0, 0) // SETTINGS
	bw.Flush()
	var hdr [9]byte
	var incr [4]byte // outside the loop: it escapes, and is allocated once
	payload := make([]byte, 1<<24)
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return
		}
		n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		typ, flags := hdr[3], hdr[4]
		id := uint32(hdr[5]&0x7f)<<24 | uint32(hdr[6])<<16 | uint32(hdr[7])<<8 | uint32(hdr[8])
		if _, err := io.ReadFull(br, payload[:n]); err != nil {
			return
		}
		switch typ {
		case 0x4: // SETTINGS
			if flags&0x1 == 0 {
				put(0, 0x4, 0x1, 0)
			}
		case 0x6: // PING
			if flags&0x1 == 0 {
				put(8, 0x6, 0x1, 0)
				bw.Write(payload[:8])
			}
		case 0x1: // HEADERS
			if flags&0x1 != 0 {
				respond(id)
			}
		case 0x0: // DATA
			if n > 0 {
				put(4, 0x8, 0, 0)
				incr = [4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
				bw.Write(incr[:])
			}
			if flags&0x1 != 0 {
				respond(id)
			}
		case 0x7: // GOAWAY
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
