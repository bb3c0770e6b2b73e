// Package http2 is the HTTP/2 load driver, on this module's own lean
// HTTP/2 client (load/internal/h2): the request is encoded once, responses
// are read by the client's own frame reader and only counted, and in the
// steady state Do allocates nothing. golang.org/x/net/http2's client is the
// oracle this driver is tested against.
//
// https:// URLs negotiate h2 through ALPN; http:// URLs speak h2c with prior
// knowledge (no HTTP/1.1 upgrade). Options.Streams Conns share one
// connection: each Conn has at most one request in flight, so S Conns on a
// connection keep up to S concurrent streams on it, and N*S Conns make N
// connections. When the server allows fewer concurrent streams
// (SETTINGS_MAX_CONCURRENT_STREAMS), requests wait for a free stream, and
// the wait shows up as latency.
package http2

import (
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
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2/hpack"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/load/internal/h2"
)

// DefaultTimeout is the per-request timeout used when Options.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// Driver opens HTTP/2 Conns to one endpoint, Options.Streams of them per
// connection. It is safe for concurrent use.
type Driver struct {
	pool *h2.Pool
	req  h2.Request
}

var _ load.Driver = (*Driver)(nil)

// New validates opts and encodes the request every Conn will send.
func New(opts load.Options) (*Driver, error) {
	u, addr, err := load.ParseHTTPURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("http2: %w", err)
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("http2: negative timeout %v", opts.Timeout)
	}
	if opts.Streams < 0 {
		return nil, fmt.Errorf("http2: negative streams per connection %d", opts.Streams)
	}
	cfg := h2.Config{Addr: addr, Timeout: opts.Timeout}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	d := &Driver{}
	if d.req, err = buildRequest(u, opts); err != nil {
		return nil, err
	}
	if u.Scheme == "https" {
		if cfg.TLS, err = newTLSConfig(opts, u.Hostname()); err != nil {
			return nil, err
		}
	}
	d.pool = h2.NewPool(cfg, opts.Streams)
	return d, nil
}

// Open returns a Conn. Conns are grouped Options.Streams to a connection, in
// the order they are opened. Open connects the group eagerly so that an
// unreachable target is reported here, by the engine's first probe.
func (d *Driver) Open(ctx context.Context) (load.Conn, error) {
	st, err := d.pool.Open(ctx)
	if err != nil {
		return nil, fmt.Errorf("http2: %w", err)
	}
	return &Conn{d: d, st: st}, nil
}

// Close closes every connection; Conns still open fail from then on.
func (d *Driver) Close() error {
	d.pool.Close()
	return nil
}

// Protocol is HTTP/2, with HTTP status codes: a 503 is http_503 as over
// HTTP/1.1.
func (d *Driver) Protocol() load.Protocol { return load.Protocol{Name: "http2", Codes: "http"} }

// buildRequest validates the request options and encodes the request once:
// its header block, and the body every stream sends.
func buildRequest(u *url.URL, opts load.Options) (h2.Request, error) {
	method := opts.Method
	if method == "" {
		method = http.MethodGet
		if len(opts.Body) > 0 {
			method = http.MethodPost
		}
	}
	if !httpguts.ValidHeaderFieldName(method) {
		return h2.Request{}, fmt.Errorf("http2: invalid method %q", method)
	}
	if method == http.MethodConnect {
		return h2.Request{}, errors.New("http2: the CONNECT method is not supported")
	}
	authority := u.Host
	userAgent := "smp"
	contentType := opts.ContentType
	var cookie string
	var basicAuth bool
	var extra []hpack.HeaderField
	seen := make(map[string]bool, len(opts.Headers))
	for name, value := range opts.Headers {
		if !httpguts.ValidHeaderFieldName(name) {
			return h2.Request{}, fmt.Errorf("http2: invalid header name %q", name)
		}
		if !httpguts.ValidHeaderFieldValue(value) {
			return h2.Request{}, fmt.Errorf("http2: invalid value for header %s: %q", name, value)
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		if seen[key] {
			return h2.Request{}, fmt.Errorf("http2: header %s is given twice (names are case-insensitive)", key)
		}
		seen[key] = true
		switch key {
		case "Host":
			if !httpguts.ValidHostHeader(value) {
				return h2.Request{}, fmt.Errorf("http2: invalid Host header %q", value)
			}
			authority = value
		case "User-Agent":
			userAgent = value
		case "Content-Type":
			if contentType != "" && contentType != value {
				return h2.Request{}, fmt.Errorf("http2: content type given twice: %q and header %q", contentType, value)
			}
			contentType = value
		case "Cookie":
			cookie = value
		case "Content-Length":
			return h2.Request{}, errors.New("http2: header Content-Length is computed from the body and cannot be set")
		case "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade", "Te":
			// RFC 9113 section 8.2.2: connection-specific fields make
			// the request malformed.
			return h2.Request{}, fmt.Errorf("http2: header %s is connection-specific and not allowed in HTTP/2", key)
		default:
			if key == "Authorization" {
				basicAuth = true // an explicit header wins over URL userinfo
			}
			extra = append(extra, hpack.HeaderField{Name: strings.ToLower(key), Value: value})
		}
	}
	if !httpguts.ValidHeaderFieldValue(contentType) {
		return h2.Request{}, fmt.Errorf("http2: invalid content type %q", contentType)
	}
	if u.User != nil && !basicAuth {
		password, _ := u.User.Password()
		creds := base64.StdEncoding.EncodeToString([]byte(u.User.Username() + ":" + password))
		extra = append(extra, hpack.HeaderField{Name: "authorization", Value: "Basic " + creds, Sensitive: true})
	}
	cookies, err := load.CookieHeader(cookie, opts.Cookies)
	if err != nil {
		return h2.Request{}, fmt.Errorf("http2: %w", err)
	}
	slices.SortFunc(extra, func(a, b hpack.HeaderField) int { return strings.Compare(a.Name, b.Name) })
	fields := []hpack.HeaderField{
		{Name: ":method", Value: method},
		{Name: ":scheme", Value: u.Scheme},
		{Name: ":authority", Value: authority},
		{Name: ":path", Value: u.RequestURI()},
		{Name: "user-agent", Value: userAgent},
	}
	for _, f := range extra {
		f.Sensitive = f.Sensitive || f.Name == "authorization"
		fields = append(fields, f)
	}
	if cookies != "" {
		// Sensitive: never indexed by an intermediary either.
		fields = append(fields, hpack.HeaderField{Name: "cookie", Value: cookies, Sensitive: true})
	}
	if contentType != "" {
		fields = append(fields, hpack.HeaderField{Name: "content-type", Value: contentType})
	}
	// Like net/http, announce the body's length, and an empty body for
	// methods that normally carry one.
	switch {
	case len(opts.Body) > 0:
		fields = append(fields, hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(len(opts.Body))})
	case method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch:
		fields = append(fields, hpack.HeaderField{Name: "content-length", Value: "0"})
	}
	return h2.Request{Block: h2.EncodeBlock(fields), Body: opts.Body, Head: method == http.MethodHead}, nil
}

// newTLSConfig builds the client TLS configuration from the TLS options.
func newTLSConfig(opts load.Options, serverName string) (*tls.Config, error) {
	cfg, err := opts.TLSConfig(serverName, "h2")
	if err != nil {
		return nil, fmt.Errorf("http2: %w", err)
	}
	return cfg, nil
}
