// Package h2test is a canned HTTP/2 server for the tests and benchmarks of
// the HTTP/2 and gRPC drivers: it answers every request with the same
// response and allocates nothing per request, so that allocation counts
// and CPU profiles are the client's.
package h2test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"sync"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Response is what the server answers: header fields (":status" first),
// a body, and trailer fields (none: the body or headers end the stream).
type Response struct {
	Fields   []hpack.HeaderField
	Body     []byte
	Trailers []hpack.HeaderField
}

// Canned starts an h2c server (prior knowledge) on 127.0.0.1 that answers
// each request once the client has ended its stream, and returns its
// address. It stops when the test ends.
func Canned(tb testing.TB, r Response) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				serve(c, r)
			})
		}
	})
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

// encode encodes fields with enc, as Go's own server does, indexing them.
func encode(enc *hpack.Encoder, buf *bytes.Buffer, fields []hpack.HeaderField) []byte {
	buf.Reset()
	for _, f := range fields {
		enc.WriteField(f)
	}
	return bytes.Clone(buf.Bytes())
}

// serve speaks HTTP/2 on bare frames: SETTINGS and PING are acknowledged,
// request DATA is given back to the connection window, and answers are
// written once nothing more is buffered to read, a batch at a time.
func serve(c net.Conn, r Response) {
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	// The first response adds its fields to the client's HPACK table; the
	// later ones refer to them, and so never change the table. Blocks are
	// encoded in the order the client decodes them.
	firstH := encode(enc, &hbuf, r.Fields)
	firstT := encode(enc, &hbuf, r.Trailers)
	restH := encode(enc, &hbuf, r.Fields)
	restT := encode(enc, &hbuf, r.Trailers)
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
	const endStream, endHeaders = 0x1, 0x4
	respond := func(id uint32) {
		h := restH
		if firstH != nil {
			h, firstH = firstH, nil
		}
		flags := byte(endHeaders)
		if len(r.Body) == 0 && len(r.Trailers) == 0 {
			flags |= endStream
		}
		put(len(h), 0x1, flags, id)
		bw.Write(h)
		if len(r.Body) > 0 {
			flags := byte(0)
			if len(r.Trailers) == 0 {
				flags = endStream
			}
			put(len(r.Body), 0x0, flags, id)
			bw.Write(r.Body)
		}
		if len(r.Trailers) > 0 {
			t := restT
			if firstT != nil {
				t, firstT = firstT, nil
			}
			put(len(t), 0x1, endHeaders|endStream, id)
			bw.Write(t)
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
			if flags&endStream != 0 {
				respond(id)
			}
		case 0x0: // DATA
			if n > 0 {
				put(4, 0x8, 0, 0)
				incr = [4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
				bw.Write(incr[:])
			}
			if flags&endStream != 0 {
				respond(id)
			}
		case 0x7: // GOAWAY
			bw.Flush()
			return
		}
		if br.Buffered() == 0 {
			if bw.Flush() != nil {
				return
			}
		}
	}
}
