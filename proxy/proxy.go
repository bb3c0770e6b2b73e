// Package proxy is smp's sidecar-style reverse proxy (`smp proxy`): HTTP/1.1
// and HTTP/2 (h2c by prior knowledge, or TLS with ALPN) in front of one
// upstream, with a chain of filters (package filter, and proxy-wasm modules
// through package proxy/wasm) whose per-request cost it measures and
// serves on an admin listener. Start runs one in process.
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smp-project/smp/internal/rawconn"
	"github.com/smp-project/smp/proxy/filter"
)

// DefaultMaxBody bounds a buffered body (request or response): 16 MiB.
const DefaultMaxBody = 16 << 20

// Config says where the proxy listens, where it forwards and through which
// filters.
type Config struct {
	// Listen is the proxy's address, e.g. 127.0.0.1:15001 (":0" style
	// addresses pick a free port).
	Listen string
	// Upstream is the one upstream: http://HOST:PORT (HTTP/1.1),
	// h2c://HOST:PORT (HTTP/2 by prior knowledge) or https://HOST:PORT
	// (HTTP/2 or HTTP/1.1 by ALPN). A path prefix is not allowed.
	Upstream string
	// UpstreamInsecure skips verifying the upstream's certificate.
	UpstreamInsecure bool
	// Admin is the address of the stats listener ("" for none).
	Admin string
	// Filters run in order on requests and in reverse order on responses.
	// The proxy owns them: Close closes those that are filter.Closers.
	Filters []filter.Filter
	// MaxBody bounds a buffered body (0: DefaultMaxBody); a larger request
	// is answered 413, a larger response 502.
	MaxBody int64
	// CertFile and KeyFile serve TLS (HTTP/2 and HTTP/1.1 by ALPN).
	CertFile, KeyFile string
	// UpstreamTimeout bounds the wait for the upstream's response head (0:
	// 60 s).
	UpstreamTimeout time.Duration
}

// Server is a running proxy.
type Server struct {
	cfg       Config
	upstream  *url.URL
	base      string // scheme://host of upstream requests
	transport *http.Transport
	buffer    bool
	stats     *stats
	nextID    atomic.Uint64

	srv, admin     *http.Server
	addr, adminAdr net.Addr
	closeOnce      sync.Once
	closeErr       error
}

// ConfigError is a Config the proxy cannot start with.
type ConfigError struct{ Field, Msg string }

func (e *ConfigError) Error() string { return e.Field + ": " + e.Msg }

// ParseUpstream checks an upstream URL and says which protocol it means.
func ParseUpstream(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "h2c") {
		return nil, &ConfigError{"upstream", fmt.Sprintf("%q: want http://HOST:PORT, h2c://HOST:PORT or https://HOST:PORT", s)}
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, &ConfigError{"upstream", fmt.Sprintf("%q: no path, query or user info (requests keep their own path)", s)}
	}
	return u, nil
}

// Start listens and serves until Close or until ctx is cancelled. Bad
// configuration is a *ConfigError; a listener that cannot open, an error
// from net.Listen.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	u, err := ParseUpstream(cfg.Upstream)
	if err != nil {
		return nil, err
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.UpstreamTimeout <= 0 {
		cfg.UpstreamTimeout = time.Minute
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, &ConfigError{"cert", "certificate and key go together"}
	}
	s := &Server{cfg: cfg, upstream: u, transport: newTransport(cfg, u), stats: newStats(cfg.Filters)}
	// h2c is a scheme of ours; the transport's Protocols choose HTTP/2.
	s.base = "http://" + u.Host
	if u.Scheme == "https" {
		s.base = "https://" + u.Host
	}
	for _, f := range cfg.Filters {
		if b, ok := f.(filter.BodyFilter); ok && b.NeedsBody() {
			s.buffer = true
		}
	}
	var tlsConf *tls.Config
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, &ConfigError{"cert", err.Error()}
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	var aln net.Listener
	if cfg.Admin != "" {
		if aln, err = net.Listen("tcp", cfg.Admin); err != nil {
			ln.Close()
			return nil, fmt.Errorf("admin listen %s: %w", cfg.Admin, err)
		}
	}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	protos.SetHTTP2(true)
	s.srv = &http.Server{
		Handler:           s,
		Protocols:         &protos,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		TLSConfig:         tlsConf,
	}
	s.addr = ln.Addr()
	ln = rawconn.Listener(ln)
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	go func() { _ = s.srv.Serve(ln) }()
	if aln != nil {
		s.adminAdr = aln.Addr()
		s.admin = &http.Server{Handler: s.adminHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = s.admin.Serve(aln) }()
	}
	go func() {
		<-ctx.Done()
		_ = s.Close()
	}()
	return s, nil
}

// dial connects to the upstream; its reads and writes are raw system
// calls (internal/rawconn), as those of accepted connections are: a proxy
// that idles between requests otherwise wakes the Go runtime's monitor
// thread on each of them.
func dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return rawconn.Wrap(c), nil
}

func newTransport(cfg Config, u *url.URL) *http.Transport {
	t := &http.Transport{
		Proxy:                 nil,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   4096,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: cfg.UpstreamTimeout,
		// The proxy forwards bodies as they are; decompressing would change
		// them under the filters.
		DisableCompression: true,
		DialContext:        dial,
	}
	var protos http.Protocols
	switch u.Scheme {
	case "h2c":
		protos.SetUnencryptedHTTP2(true)
	case "https":
		protos.SetHTTP1(true)
		protos.SetHTTP2(true)
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: cfg.UpstreamInsecure} //nolint:gosec // asked for by the user
	default:
		protos.SetHTTP1(true)
	}
	t.Protocols = &protos
	return t
}

// Addr is the proxy's listening address.
func (s *Server) Addr() net.Addr { return s.addr }

// AdminAddr is the admin listener's address (nil without one).
func (s *Server) AdminAddr() net.Addr { return s.adminAdr }

// Close stops the listeners, closes idle upstream connections and the
// filters that hold resources. Requests in flight are cut.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		errs := []error{s.srv.Close()}
		if s.admin != nil {
			errs = append(errs, s.admin.Close())
		}
		s.transport.CloseIdleConnections()
		for _, f := range s.cfg.Filters {
			if c, ok := f.(filter.Closer); ok {
				errs = append(errs, c.Close())
			}
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// hopHeaders are the hop-by-hop headers (RFC 9110 7.6.1) a proxy does not
// forward.
func hopHeaders() [8]string {
	return [...]string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding"}
}

func removeHop(h http.Header) {
	for _, f := range h.Values("Connection") {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, k := range hopHeaders() {
		h.Del(k)
	}
	h.Del("Upgrade")
}
