// Package http2 is the HTTP/2 load driver, built on golang.org/x/net/http2.
//
// https:// URLs negotiate h2 through ALPN; http:// URLs speak h2c with prior
// knowledge (no HTTP/1.1 upgrade). Options.Streams Conns share one
// connection: each Conn has at most one request in flight, so S Conns on a
// connection keep up to S concurrent streams on it, and N*S Conns make N
// connections.
package http2

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"

	"github.com/smp-project/smp/load"
)

// DefaultTimeout is the per-request timeout used when Options.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// Driver opens HTTP/2 Conns to one endpoint, Options.Streams of them per
// connection. It is safe for concurrent use.
type Driver struct {
	tr        *http2.Transport
	addr      string      // host:port to dial
	tlsConfig *tls.Config // nil for h2c
	tmpl      *http.Request
	body      []byte
	timeout   time.Duration
	streams   int
	closed    atomic.Bool

	mu      sync.Mutex
	filling *group // the group new Conns join until it has streams members
	joined  int    // Conns that have joined filling
	groups  map[*group]struct{}
}

var _ load.Driver = (*Driver)(nil)

// New validates opts and prepares the request every Conn will send.
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
	d := &Driver{
		addr:    addr,
		body:    opts.Body,
		timeout: opts.Timeout,
		streams: max(opts.Streams, 1),
		groups:  make(map[*group]struct{}),
	}
	if d.timeout == 0 {
		d.timeout = DefaultTimeout
	}
	if d.tmpl, err = buildRequest(u, opts); err != nil {
		return nil, err
	}
	if u.Scheme == "https" {
		if d.tlsConfig, err = newTLSConfig(opts, u.Hostname()); err != nil {
			return nil, err
		}
	}
	// Connections come from dial and Transport.NewClientConn, never from
	// the Transport's own pool, so its dialling and scheme settings do not
	// apply; what remains is per-connection behaviour.
	d.tr = &http2.Transport{
		TLSClientConfig: d.tlsConfig,
		// The load generator measures the server, not gzip.
		DisableCompression: true,
		// With more Conns on a connection than the server allows streams,
		// requests wait for a free stream (and the wait shows up as
		// latency) instead of failing.
		StrictMaxConcurrentStreams: true,
		// A server that vanishes without closing the connection would
		// otherwise time every request out forever: after a timeout's
		// worth of silence a PING that goes unanswered closes the
		// connection, and the next request dials a new one.
		ReadIdleTimeout: d.timeout,
		PingTimeout:     min(d.timeout, 15*time.Second),
	}
	return d, nil
}

// Open returns a Conn. Conns are grouped Options.Streams to a connection, in
// the order they are opened. Open connects the group eagerly so that an
// unreachable target is reported here, by the engine's first probe.
func (d *Driver) Open(ctx context.Context) (load.Conn, error) {
	d.mu.Lock()
	if d.closed.Load() {
		d.mu.Unlock()
		return nil, errors.New("http2: open: driver is closed")
	}
	g := d.filling
	if g == nil || d.joined == d.streams {
		g = &group{d: d}
		d.filling, d.joined = g, 0
		d.groups[g] = struct{}{}
	}
	d.joined++
	g.members++
	d.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if _, _, err := g.conn(ctx); err != nil {
		d.leave(g, true)
		return nil, err
	}
	return &Conn{d: d, g: g, buf: make([]byte, 16<<10)}, nil
}

// leave takes a member out of g, closing g's connection after the last one.
// A member whose Open failed also gives its place back, so that a failed
// Open does not shrink a group.
func (d *Driver) leave(g *group, failedOpen bool) {
	d.mu.Lock()
	g.members--
	if failedOpen && d.filling == g {
		d.joined--
	}
	last := g.members == 0
	if last {
		delete(d.groups, g)
		if d.filling == g {
			d.filling = nil
		}
	}
	d.mu.Unlock()
	if last {
		g.close()
	}
}

// Close closes every connection; Conns still open fail from then on.
func (d *Driver) Close() error {
	d.mu.Lock()
	d.closed.Store(true)
	groups := slices.Collect(maps.Keys(d.groups))
	clear(d.groups)
	d.filling = nil
	d.mu.Unlock()
	var errs []error
	for _, g := range groups {
		if err := g.close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Protocol is HTTP/2, with HTTP status codes: a 503 is http_503 as over
// HTTP/1.1.
func (d *Driver) Protocol() load.Protocol { return load.Protocol{Name: "http2", Codes: "http"} }

// dial connects to the endpoint and starts an HTTP/2 connection on it.
func (d *Driver) dial(ctx context.Context) (*http2.ClientConn, error) {
	var dialer net.Dialer
	nc, err := dialer.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, fmt.Errorf("http2: connect: %w", err)
	}
	if d.tlsConfig != nil {
		tc := tls.Client(nc, d.tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("http2: TLS handshake with %s: %w", d.addr, err)
		}
		if p := tc.ConnectionState().NegotiatedProtocol; p != http2.NextProtoTLS {
			tc.Close()
			return nil, fmt.Errorf("http2: %s did not negotiate HTTP/2 through ALPN (got %q)", d.addr, p)
		}
		nc = tc
	}
	cc, err := d.tr.NewClientConn(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("http2: start connection to %s: %w", d.addr, err)
	}
	return cc, nil
}

// group is the Conns sharing one connection, and that connection.
type group struct {
	d       *Driver
	members int // guarded by d.mu

	mu sync.Mutex
	cc *http2.ClientConn // nil until dialled, and after it died
}

// conn returns the group's connection, dialling one if there is none or if
// the one it has can take no more requests (closed, or going away). When it
// dialled, it returns how long that took (never 0), on failure too;
// otherwise 0.
func (g *group) conn(ctx context.Context) (*http2.ClientConn, time.Duration, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cc != nil {
		if !g.forgetLocked(g.cc) {
			return g.cc, 0, nil
		}
	}
	if g.d.closed.Load() {
		return nil, 0, errors.New("http2: driver is closed")
	}
	start := time.Now()
	cc, err := g.d.dial(ctx)
	connect := max(time.Since(start), 1)
	if err != nil {
		return nil, connect, err
	}
	if g.d.closed.Load() { // Close ran while dialling: it did not see cc
		cc.Close()
		return nil, connect, errors.New("http2: driver is closed")
	}
	g.cc = cc
	return cc, connect, nil
}

// retire makes the group forget cc if it can take no more requests, so
// that the next request dials a new connection.
func (g *group) retire(cc *http2.ClientConn) {
	g.mu.Lock()
	g.forgetLocked(cc)
	g.mu.Unlock()
}

// forgetLocked reports whether cc can take no more requests (closed, or
// told by a GOAWAY to go away) and if so, when cc is the group's
// connection, makes the group forget it. Streams still running on a
// connection that is going away are left to finish. g.mu is held.
func (g *group) forgetLocked(cc *http2.ClientConn) bool {
	st := cc.State()
	if !st.Closed && !st.Closing {
		return false
	}
	if g.cc != cc {
		return true
	}
	g.cc = nil
	if !st.Closed {
		// Closes the connection once its other streams are done (bounded
		// by their timeout), rather than leaving that to the server.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), g.d.timeout)
			defer cancel()
			if cc.Shutdown(ctx) != nil {
				cc.Close()
			}
		}()
	}
	return true
}

func (g *group) close() error {
	g.mu.Lock()
	cc := g.cc
	g.cc = nil
	g.mu.Unlock()
	if cc == nil {
		return nil
	}
	if err := cc.Close(); err != nil {
		return fmt.Errorf("http2: close connection: %w", err)
	}
	return nil
}

// buildRequest makes the request template every Do copies.
func buildRequest(u *url.URL, opts load.Options) (*http.Request, error) {
	method := opts.Method
	if method == "" {
		method = http.MethodGet
		if len(opts.Body) > 0 {
			method = http.MethodPost
		}
	}
	if !httpguts.ValidHeaderFieldName(method) {
		return nil, fmt.Errorf("http2: invalid method %q", method)
	}
	if method == http.MethodConnect {
		return nil, errors.New("http2: the CONNECT method is not supported")
	}
	target := *u
	target.User = nil // sent as an Authorization header below
	target.Fragment, target.RawFragment = "", ""
	req, err := http.NewRequest(method, target.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("http2: build request: %w", err)
	}
	req.Header = make(http.Header, len(opts.Headers)+3)
	req.Header.Set("User-Agent", "smp")
	seen := make(map[string]bool, len(opts.Headers))
	for name, value := range opts.Headers {
		if !httpguts.ValidHeaderFieldName(name) {
			return nil, fmt.Errorf("http2: invalid header name %q", name)
		}
		if !httpguts.ValidHeaderFieldValue(value) {
			return nil, fmt.Errorf("http2: invalid value for header %s: %q", name, value)
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		if seen[key] {
			return nil, fmt.Errorf("http2: header %s is given twice (names are case-insensitive)", key)
		}
		seen[key] = true
		switch key {
		case "Host":
			if !httpguts.ValidHostHeader(value) {
				return nil, fmt.Errorf("http2: invalid Host header %q", value)
			}
			req.Host = value // sent as :authority
		case "Content-Length":
			return nil, errors.New("http2: header Content-Length is computed from the body and cannot be set")
		case "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade":
			return nil, fmt.Errorf("http2: header %s is connection-specific and not allowed in HTTP/2", key)
		default:
			req.Header.Set(key, value)
		}
	}
	if opts.ContentType != "" {
		if !httpguts.ValidHeaderFieldValue(opts.ContentType) {
			return nil, fmt.Errorf("http2: invalid content type %q", opts.ContentType)
		}
		if ct := req.Header.Get("Content-Type"); ct != "" && ct != opts.ContentType {
			return nil, fmt.Errorf("http2: content type given twice: %q and header %q", opts.ContentType, ct)
		}
		req.Header.Set("Content-Type", opts.ContentType)
	}
	if u.User != nil && req.Header.Get("Authorization") == "" {
		password, _ := u.User.Password()
		creds := base64.StdEncoding.EncodeToString([]byte(u.User.Username() + ":" + password))
		req.Header.Set("Authorization", "Basic "+creds)
	}
	cookies, err := load.CookieHeader(req.Header.Get("Cookie"), opts.Cookies)
	if err != nil {
		return nil, fmt.Errorf("http2: %w", err)
	}
	if cookies != "" {
		req.Header.Set("Cookie", cookies)
	}
	req.ContentLength = int64(len(opts.Body))
	return req, nil
}

// newTLSConfig builds the client TLS configuration from the TLS options.
func newTLSConfig(opts load.Options, serverName string) (*tls.Config, error) {
	cfg, err := opts.TLSConfig(serverName, http2.NextProtoTLS)
	if err != nil {
		return nil, fmt.Errorf("http2: %w", err)
	}
	return cfg, nil
}
