package target

import (
	"bufio"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"

	"golang.org/x/net/http2"
)

// h2PrefaceRest is what follows "PRI * HTTP/2.0\r\n\r\n" in the HTTP/2
// client connection preface.
const h2PrefaceRest = "SM\r\n\r\n"

// serveH2Preface continues an HTTP/2 connection that began with the client
// preface (h2c with prior knowledge, RFC 9113 §3.3).
func (hc *h1conn) serveH2Preface() {
	var rest [len(h2PrefaceRest)]byte
	if _, err := io.ReadFull(hc.br, rest[:]); err != nil || string(rest[:]) != h2PrefaceRest {
		return
	}
	hc.s.serveH2(hc.bufferedConn(), hc.raw, &http2.ServeConnOpts{SawClientPreface: true})
}

// serveUpgrade switches to HTTP/2 after an "Upgrade: h2c" request (RFC
// 7540 §3.2); the request itself becomes stream 1.
func (hc *h1conn) serveUpgrade() {
	r := &hc.req
	settings, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(string(r.bytes(r.settings)), "="))
	if err != nil {
		hc.writeError(&httpError{http.StatusBadRequest, "bad HTTP2-Settings header"})
		return
	}
	body, err := readBody(hc.br, r, true, nil, maxControlBody, nil)
	if err != nil {
		var he *httpError
		if errors.As(err, &he) {
			hc.writeError(he)
		}
		return
	}
	req, err := hc.httpRequest(body)
	if err != nil {
		hc.writeError(errBadRequest)
		return
	}
	if _, err := hc.bw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"); err != nil {
		return
	}
	if hc.bw.Flush() != nil {
		return
	}
	hc.s.serveH2(hc.bufferedConn(), hc.raw, &http2.ServeConnOpts{UpgradeRequest: req, Settings: settings})
}

// bufferedConn returns the connection with whatever the reader has
// buffered put back in front of it.
func (hc *h1conn) bufferedConn() net.Conn {
	if hc.br.Buffered() == 0 {
		return hc.c
	}
	return &bufConn{Conn: hc.c, r: hc.br}
}

// bufConn reads the bytes a bufio.Reader already holds before reading the
// connection again.
type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(p []byte) (int, error) {
	if c.r != nil {
		if c.r.Buffered() > 0 {
			return c.r.Read(p[:min(len(p), c.r.Buffered())])
		}
		c.r = nil
	}
	return c.Conn.Read(p)
}
