// Package http1 is the HTTP/1.1 load driver: a lean client written for the
// hot path of a load generator rather than for general use.
//
// Each Conn owns one keep-alive connection (TCP, or TLS for https://), sends a
// request serialised once by New, and parses the response itself, reading
// only the headers that framing needs and discarding the body into the
// connection's read buffer. In the steady state Do allocates nothing (over
// TLS, only crypto/tls's own allocation per record read remains), so the
// generator's own garbage does not show up in the latencies it measures.
package http1

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/smp-project/smp/load"
)

// DefaultTimeout is the per-request timeout used when Options.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// Driver opens HTTP/1.1 connections to one endpoint. It is safe for
// concurrent use.
type Driver struct {
	addr      string      // host:port to dial
	tlsConfig *tls.Config // nil for http://
	request   []byte      // the whole request, serialised once
	head      bool        // responses to HEAD carry no body
	timeout   time.Duration
	closed    atomic.Bool
}

var _ load.Driver = (*Driver)(nil)

// New validates opts and prepares the request every Conn will send.
func New(opts load.Options) (*Driver, error) {
	u, addr, err := load.ParseHTTPURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("http1: %w", err)
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("http1: negative timeout %v", opts.Timeout)
	}
	d := &Driver{
		addr:    addr,
		timeout: opts.Timeout,
	}
	if d.timeout == 0 {
		d.timeout = DefaultTimeout
	}
	var method string
	d.request, method, err = buildRequest(u, opts)
	if err != nil {
		return nil, err
	}
	d.head = method == http.MethodHead
	if u.Scheme == "https" {
		d.tlsConfig, err = newTLSConfig(opts, u.Hostname())
		if err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Open returns a connected Conn. It connects eagerly so that an unreachable
// target is reported here, by the engine's first probe.
func (d *Driver) Open(ctx context.Context) (load.Conn, error) {
	if d.closed.Load() {
		return nil, errors.New("http1: open: driver is closed")
	}
	c := newConn(d)
	if err := c.connect(ctx, time.Now().Add(d.timeout)); err != nil {
		return nil, err
	}
	return c, nil
}

// Close makes later Opens fail. Conns already open stay usable until the
// engine closes them: the driver shares nothing with them that needs release.
func (d *Driver) Close() error {
	d.closed.Store(true)
	return nil
}

// Protocol is HTTP/1.1, with HTTP status codes.
func (d *Driver) Protocol() load.Protocol { return load.Protocol{Name: "http", Codes: "http"} }

// buildRequest serialises the request line, headers and body once, so that
// Do only has to write a byte slice. It returns the method it used.
func buildRequest(u *url.URL, opts load.Options) ([]byte, string, error) {
	method := opts.Method
	if method == "" {
		method = http.MethodGet
		if len(opts.Body) > 0 {
			method = http.MethodPost
		}
	}
	if !httpguts.ValidHeaderFieldName(method) {
		return nil, "", fmt.Errorf("http1: invalid method %q", method)
	}
	if method == http.MethodConnect {
		return nil, "", errors.New("http1: the CONNECT method is not supported")
	}

	host := u.Host
	userAgent := "smp"
	contentType := opts.ContentType
	var cookie string
	var basicAuth bool
	extra := make([][2]string, 0, len(opts.Headers))
	seen := make(map[string]bool, len(opts.Headers))
	for name, value := range opts.Headers {
		if !httpguts.ValidHeaderFieldName(name) {
			return nil, "", fmt.Errorf("http1: invalid header name %q", name)
		}
		if !httpguts.ValidHeaderFieldValue(value) {
			return nil, "", fmt.Errorf("http1: invalid value for header %s: %q", name, value)
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		if seen[key] {
			return nil, "", fmt.Errorf("http1: header %s is given twice (names are case-insensitive)", key)
		}
		seen[key] = true
		switch key {
		case "Host":
			if !httpguts.ValidHostHeader(value) {
				return nil, "", fmt.Errorf("http1: invalid Host header %q", value)
			}
			host = value
		case "User-Agent":
			userAgent = value
		case "Content-Type":
			if contentType != "" && contentType != value {
				return nil, "", fmt.Errorf("http1: content type given twice: %q and header %q", contentType, value)
			}
			contentType = value
		case "Cookie":
			cookie = value
		case "Content-Length", "Transfer-Encoding":
			// The body is sent with a Content-Length computed from it; a
			// second framing header would desynchronise the server.
			return nil, "", fmt.Errorf("http1: header %s is computed from the body and cannot be set", key)
		default:
			if key == "Authorization" {
				basicAuth = true // an explicit header wins over URL userinfo
			}
			extra = append(extra, [2]string{key, value})
		}
	}
	if !httpguts.ValidHeaderFieldValue(contentType) {
		return nil, "", fmt.Errorf("http1: invalid content type %q", contentType)
	}
	if u.User != nil && !basicAuth {
		password, _ := u.User.Password()
		creds := base64.StdEncoding.EncodeToString([]byte(u.User.Username() + ":" + password))
		extra = append(extra, [2]string{"Authorization", "Basic " + creds})
	}
	cookies, err := load.CookieHeader(cookie, opts.Cookies)
	if err != nil {
		return nil, "", fmt.Errorf("http1: %w", err)
	}
	slices.SortFunc(extra, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })

	var b bytes.Buffer
	b.Grow(256 + len(opts.Body))
	b.WriteString(method)
	b.WriteByte(' ')
	b.WriteString(u.RequestURI())
	b.WriteString(" HTTP/1.1\r\n")
	writeHeader(&b, "Host", host)
	writeHeader(&b, "User-Agent", userAgent)
	for _, h := range extra {
		writeHeader(&b, h[0], h[1])
	}
	if cookies != "" {
		writeHeader(&b, "Cookie", cookies)
	}
	if contentType != "" {
		writeHeader(&b, "Content-Type", contentType)
	}
	// Like net/http, announce an empty body for methods that normally carry
	// one, so that servers do not wait for a body or reject the request.
	switch {
	case len(opts.Body) > 0:
		writeHeader(&b, "Content-Length", strconv.Itoa(len(opts.Body)))
	case method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch:
		writeHeader(&b, "Content-Length", "0")
	}
	b.WriteString("\r\n")
	b.Write(opts.Body)
	return b.Bytes(), method, nil
}

func writeHeader(b *bytes.Buffer, name, value string) {
	b.WriteString(name)
	b.WriteString(": ")
	b.WriteString(value)
	b.WriteString("\r\n")
}

// newTLSConfig builds the client TLS configuration from the TLS options.
func newTLSConfig(opts load.Options, serverName string) (*tls.Config, error) {
	cfg, err := opts.TLSConfig(serverName, "http/1.1")
	if err != nil {
		return nil, fmt.Errorf("http1: %w", err)
	}
	return cfg, nil
}
