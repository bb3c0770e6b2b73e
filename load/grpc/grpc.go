// Package grpc is the gRPC load driver: it calls any unary or
// server-streaming method of any server, with a request message given as
// JSON.
//
// Unary calls go over this module's lean HTTP/2 client (load/internal/h2),
// the one under the http2 driver: the call — header block with the
// method's path, metadata and grpc-timeout, and the length-prefixed
// message, uncompressed — is encoded once by New, responses are only
// counted, and in the steady state Do allocates nothing. Server-streaming
// calls, and the one-time work of New (reflection, and the first call of a
// streaming method), stay on grpc-go: a streaming call reads many messages
// whose cost dwarfs the client's, so a second implementation would buy
// little there.
//
// # Endpoints
//
//	grpc://host:port/package.Service/Method    plaintext (HTTP/2 with prior knowledge)
//	grpcs://host:port/package.Service/Method   TLS
//	grpc://host:port                           grpc.health.v1.Health/Check
//
// Without a port, grpc:// uses 80 and grpcs:// 443.
//
// A URL without a method calls the standard health check, whose descriptor
// is built in. A gRPC server without the health service is a target all
// the same: it answers UNIMPLEMENTED, and the run counts every call as
// failed with code 12 (Unimplemented). Name a method in the URL to load
// the server with calls it serves.
//
// # Requests
//
// load.Options.Body is the request message as JSON (protojson: field names
// in lowerCamelCase or as in the .proto); empty means an empty message. It is
// encoded once, by New, using the method's descriptor, which comes from (in
// this order) the protoset or .proto files named in Config, the descriptors
// compiled into this program (grpc.health.v1), or the server's reflection
// service (grpc.reflection.v1, falling back to v1alpha). Calls then send the
// encoded bytes, and count the bytes of the response messages: the hot path
// marshals nothing. Server-streaming calls on grpc-go still allocate (it
// builds a stream, contexts and frames for every call, about 100 small
// objects).
//
// # Connections and streams
//
// The engine opens Connections × Streams Conns; every Options.Streams
// consecutive Opens share one HTTP/2 connection (for a streaming method, a
// grpc.ClientConn), so that Streams calls are in flight on each connection.
// Options.Headers become request metadata (names are lowercased; a "-bin"
// name takes a base64 value; "host" or ":authority" sets the authority and
// "user-agent" is prefixed to the client's own), Options.Cookies a "cookie"
// entry. Options.Timeout is each call's deadline (30s by default). The
// options Method and ContentType have no meaning for gRPC and must be empty
// (or POST and application/grpc).
//
// # Outcomes and errors
//
// A call that ends with a status sent by a gRPC server (or a proxy speaking
// gRPC) is an outcome: Outcome.Code is the gRPC status code and
// Outcome.Failed is set when it is not OK. A call that ends without one — the
// connection could not be made or broke, the deadline passed, the peer does
// not speak gRPC — is an error of type *CallError, which carries the status
// code gRPC's clients give such a call (status.Code works on it) and wraps
// the cause:
// the net/syscall error of a failed dial or read (errors.Is(err,
// syscall.ECONNREFUSED)), a *tls.* error, context.DeadlineExceeded for the
// call's deadline, or ErrNotGRPC.
//
// New finds out whether the server speaks gRPC at all: reflection does,
// and when the descriptor comes from elsewhere (a URL without a method,
// descriptor files), New makes one call of the method (a streaming one is
// ended as soon as the response headers arrive). A server that answers, but not as a gRPC
// server does, makes New fail with a *CallError wrapping ErrNotGRPC that
// says what answered: an HTTP/1 server (its status line), an HTTP/2
// server's response that is not gRPC (its status, content type and the
// start of its body), a TLS server on a grpc:// URL, a TLS server that
// does not offer HTTP/2 (ALPN "h2") on a grpcs:// URL. That error is no
// connect error (load.IsConnectError), so the caller can report bad input
// rather than an unreachable target; smp run exits 2. Any gRPC status,
// UNIMPLEMENTED included, passes; a server that cannot be reached or does
// not answer within the timeout is left to Open. The call's connection is
// the one the first Open uses.
//
// # additional_options
//
// Protocol options come from the SMP config's additional_options, a JSON
// object read by ParseOptions:
//
//	"protoset"           string or list: FileDescriptorSet files (protoc
//	                     --descriptor_set_out, best with --include_imports)
//	"proto"              string or list: .proto source files
//	"import_paths"       list: directories that imports in "proto" files are
//	                     resolved from (default: each file's directory)
//	"authority"          string: the :authority of every call
//	"server_name"        string: the TLS server name to verify (and send as
//	                     SNI), when it differs from the URL's host
//	"max_recv_msg_bytes" number: largest response message accepted (default
//	                     64 MiB)
//
// Unknown keys are an error, so that a misspelt option does not go unnoticed.
package grpc

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/load/internal/h2"
)

// DefaultTimeout is the deadline of a call when Options.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// defaultMaxRecv is the default bound on a response message. grpc-go's own
// 4 MiB is small for a load test that asks for large responses.
const defaultMaxRecv = 64 << 20

// healthMethod is what a URL without a method calls.
const healthMethod = "grpc.health.v1.Health/Check"

// Driver opens Conns that call one method of one server. It is safe for
// concurrent use.
type Driver struct {
	addr      string // host:port
	method    string // "/package.Service/Method"
	streaming bool   // server-streaming
	desc      grpc.StreamDesc
	req       rawMessage // the encoded request, shared read-only by every call
	md        metadata.MD
	timeout   time.Duration
	streams   int
	dialOpts  []grpc.DialOption
	tlsConfig *tls.Config // nil for plaintext
	hostname  string      // for messages

	// Unary calls go over the lean HTTP/2 client: pool opens their
	// Conns, and unary is the call, encoded once. Both are nil/empty for
	// a server-streaming method, whose calls stay on grpc-go.
	pool  *h2.Pool
	unary h2.Request
	first *h2.Stream // the stream checkUnary called on, for the first Open

	mu     sync.Mutex
	opened int              // Opens so far: Open n goes to channel n/streams
	chans  map[int]*channel // live channels by index
	closed bool
}

var _ load.Driver = (*Driver)(nil)

// endpoint is what the URL says.
type endpoint struct {
	addr, host string
	tls        bool
	service    string // fully-qualified, e.g. "package.Service"
	method     string // e.g. "Method"
}

// parseURL reads grpc://host:port[/package.Service/Method].
func parseURL(raw string) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("grpc: parse URL: %w", err)
	}
	var e endpoint
	port := "80"
	switch u.Scheme {
	case "grpc":
	case "grpcs":
		e.tls, port = true, "443"
	default:
		return endpoint{}, fmt.Errorf("grpc: unsupported URL scheme %q in %q (want grpc or grpcs)", u.Scheme, raw)
	}
	if u.Hostname() == "" {
		return endpoint{}, fmt.Errorf("grpc: URL %q has no host", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return endpoint{}, fmt.Errorf("grpc: URL %q: a gRPC endpoint has no query, fragment or user", raw)
	}
	if u.Port() != "" {
		port = u.Port()
	}
	e.host = u.Hostname()
	e.addr = net.JoinHostPort(e.host, port)
	path := strings.Trim(u.Path, "/")
	if path == "" {
		path = healthMethod
	}
	svc, m, ok := strings.Cut(path, "/")
	if !ok || svc == "" || m == "" || strings.Contains(m, "/") ||
		!protoreflect.FullName(svc).IsValid() || !protoreflect.Name(m).IsValid() {
		return endpoint{}, fmt.Errorf("grpc: URL %q: the path must be /package.Service/Method (or empty for %s), got %q", raw, healthMethod, u.Path)
	}
	e.service, e.method = svc, m
	return e, nil
}

// New prepares calls to the method named by opts.URL: it finds the method's
// descriptor and encodes the request. When the descriptor has to come from
// the server's reflection service, New connects to the server (within ctx
// and opts.Timeout); a failure to connect then wraps the net error, so that
// load.IsConnectError tells an unreachable target from bad input.
//
// Otherwise New makes one call of the method (see check), so that a server
// that answers, but not as a gRPC server does, is an error wrapping
// ErrNotGRPC here rather than a run of failed calls. That call's connection
// is the one the first Open uses.
func New(ctx context.Context, opts load.Options, cfg Config) (*Driver, error) {
	ep, err := parseURL(opts.URL)
	if err != nil {
		return nil, err
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("grpc: negative timeout %v", opts.Timeout)
	}
	if opts.Streams < 0 {
		return nil, fmt.Errorf("grpc: negative number of streams per connection %d", opts.Streams)
	}
	if opts.Method != "" && !strings.EqualFold(opts.Method, "POST") {
		return nil, fmt.Errorf("grpc: method %q: gRPC calls have no HTTP method to choose (the gRPC method is the URL's path)", opts.Method)
	}
	if ct := opts.ContentType; ct != "" && !strings.HasPrefix(ct, "application/grpc") {
		return nil, fmt.Errorf("grpc: content type %q: gRPC requests are application/grpc; give the message as JSON in the body", ct)
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	d := &Driver{
		addr:     ep.addr,
		method:   "/" + ep.service + "/" + ep.method,
		timeout:  opts.Timeout,
		streams:  max(opts.Streams, 1),
		hostname: ep.host,
		chans:    map[int]*channel{},
	}
	if d.timeout == 0 {
		d.timeout = DefaultTimeout
	}
	md, authority, userAgent, err := buildMetadata(opts.Headers, opts.Cookies)
	if err != nil {
		return nil, err
	}
	if cfg.Authority != "" {
		if authority != "" && authority != cfg.Authority {
			return nil, fmt.Errorf("grpc: authority given twice: %q in the headers and %q in the options", authority, cfg.Authority)
		}
		authority = cfg.Authority
	}
	d.md = md
	if ep.tls {
		name := ep.host
		if cfg.ServerName != "" {
			name = cfg.ServerName
		}
		if d.tlsConfig, err = newTLSConfig(opts, name); err != nil {
			return nil, err
		}
	} else if opts.CAFile != "" || opts.CertFile != "" || opts.KeyFile != "" || opts.InsecureSkipVerify {
		return nil, fmt.Errorf("grpc: TLS options are given but %q is plaintext; use grpcs://", opts.URL)
	}
	maxRecv := cfg.MaxRecvMsgBytes
	if maxRecv == 0 {
		maxRecv = defaultMaxRecv
	}
	d.dialOpts = []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{}), grpc.MaxCallRecvMsgSize(maxRecv)),
		// A load test wants a broken connection back soon, and each
		// reconnect attempt bounded by the call deadline; grpc-go's
		// defaults (1s growing to 120s) would leave a channel dead for
		// most of a run after a blip.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: d.timeout,
		}),
		// Retries would hide failures from the measurement, service
		// configs from a resolver would change what is measured, and an
		// idle channel must not be torn down between slow schedules.
		grpc.WithDisableRetry(),
		grpc.WithDisableServiceConfig(),
		grpc.WithIdleTimeout(0),
		grpc.WithSharedWriteBuffer(true),
		grpc.WithStatsHandler(statsHandler{}),
	}
	if authority != "" {
		d.dialOpts = append(d.dialOpts, grpc.WithAuthority(authority))
	}
	if userAgent != "" {
		d.dialOpts = append(d.dialOpts, grpc.WithUserAgent(userAgent))
	}

	md2, files, err := resolveMethod(ctx, d, cfg, ep)
	if err != nil {
		return nil, err
	}
	if md2.IsStreamingClient() {
		kind := "client-streaming"
		if md2.IsStreamingServer() {
			kind = "bidirectional streaming"
		}
		return nil, fmt.Errorf("grpc: %s is a %s method; only unary and server-streaming methods can be load-tested", md2.FullName(), kind)
	}
	d.streaming = md2.IsStreamingServer()
	d.desc = grpc.StreamDesc{StreamName: string(md2.Name()), ServerStreams: d.streaming}
	body, err := encodeRequest(md2.Input(), opts.Body, files)
	if err != nil {
		return nil, err
	}
	d.req = newRawMessage(body)
	if !d.streaming {
		var tlsConfig *tls.Config
		if d.tlsConfig != nil {
			tlsConfig = d.tlsConfig.Clone()
			tlsConfig.NextProtos = []string{"h2"}
		}
		d.unary = unaryRequest(d.method, cmp.Or(authority, ep.addr), ep.tls, userAgent, md, d.timeout, body)
		d.pool = h2.NewPool(h2.Config{Addr: d.addr, TLS: tlsConfig, Timeout: d.timeout, GRPC: true, MaxMessage: int64(maxRecv)}, d.streams)
	}
	// Reflection has shown that the server speaks gRPC; without it, New
	// has not talked to the server yet, and a non-gRPC server would
	// answer every call of the run with an error instead.
	if !usesReflection(cfg, ep.service) {
		check := d.check
		if d.pool != nil {
			check = d.checkUnary
		}
		if err := check(ctx); err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

// Open returns a Conn on the current channel (a new one every Streams
// Opens). The first Open of a channel connects and waits until it is ready,
// so that an unreachable or non-gRPC target is reported here.
func (d *Driver) Open(ctx context.Context) (load.Conn, error) {
	if d.pool != nil {
		d.mu.Lock()
		st := d.first
		d.first = nil
		d.mu.Unlock()
		if st != nil {
			return &unaryConn{d: d, st: st}, nil
		}
		st, err := d.pool.Open(ctx)
		if err != nil {
			return nil, d.unaryError(ctx, err)
		}
		return &unaryConn{d: d, st: st}, nil
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, errors.New("grpc: open: driver is closed")
	}
	idx := d.opened / d.streams
	d.opened++
	ch := d.chans[idx]
	if ch == nil {
		var err error
		ch, err = d.newChannel(idx)
		if err != nil {
			d.mu.Unlock()
			return nil, err
		}
		d.chans[idx] = ch
	}
	ch.refs++
	d.mu.Unlock()

	if err := ch.waitReady(ctx, d); err != nil {
		d.release(ch)
		return nil, err
	}
	return newConn(d, ch), nil
}

// release drops one reference to ch and closes it with the last one
// (unless Close has closed it already).
func (d *Driver) release(ch *channel) {
	d.mu.Lock()
	ch.refs--
	last := ch.refs == 0 && d.chans[ch.idx] == ch
	if last {
		delete(d.chans, ch.idx)
	}
	d.mu.Unlock()
	if last {
		ch.cc.Close()
	}
}

// Close makes later Opens fail and closes every channel; Conns still open
// then fail their calls, and their Close is harmless.
func (d *Driver) Close() error {
	d.mu.Lock()
	d.closed = true
	chans := d.chans
	d.chans = map[int]*channel{}
	d.mu.Unlock()
	for _, ch := range chans {
		ch.cc.Close()
	}
	if d.pool != nil {
		d.pool.Close()
	}
	return nil
}

// Protocol is gRPC, with gRPC status codes.
func (d *Driver) Protocol() load.Protocol { return load.Protocol{Name: "grpc", Codes: "grpc"} }

// newChannel creates (without connecting) channel idx.
func (d *Driver) newChannel(idx int) (*channel, error) {
	ch := &channel{idx: idx, addr: d.addr}
	var creds credentials.TransportCredentials = insecure.NewCredentials()
	if d.tlsConfig != nil {
		creds = credentials.NewTLS(d.tlsConfig)
	}
	opts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(recordingCreds{creds, ch}),
		grpc.WithContextDialer(ch.dial),
	}, d.dialOpts...)
	// passthrough: the dialer resolves the name, and grpc-go neither runs
	// a DNS resolver of its own nor balances over several addresses, so a
	// channel is exactly one connection.
	cc, err := grpc.NewClient("passthrough:///"+d.addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("grpc: create channel to %s: %w", d.addr, err)
	}
	ch.cc = cc
	return ch, nil
}

// buildMetadata turns the request headers into gRPC metadata, taking out
// those that grpc-go sets through options.
func buildMetadata(headers, cookies map[string]string) (md metadata.MD, authority, userAgent string, err error) {
	md = metadata.MD{}
	for name, value := range headers {
		key := strings.ToLower(strings.TrimSpace(name))
		switch {
		case key == "host" || key == ":authority":
			authority = value
			continue
		case key == "user-agent":
			userAgent = value
			continue
		case key == "" || strings.HasPrefix(key, ":"):
			return nil, "", "", fmt.Errorf("grpc: header %q: pseudo-headers cannot be set (only :authority)", name)
		case key == "content-type" || key == "te" || key == "connection" || strings.HasPrefix(key, "grpc-"):
			return nil, "", "", fmt.Errorf("grpc: header %q is set by gRPC itself and cannot be given (use the timeout option for deadlines)", name)
		}
		for _, r := range key {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
				return nil, "", "", fmt.Errorf("grpc: header %q: metadata names may hold only a-z, 0-9, '-', '_' and '.'", name)
			}
		}
		if strings.HasSuffix(key, "-bin") {
			b, err := decodeBase64(value)
			if err != nil {
				return nil, "", "", fmt.Errorf("grpc: header %q: a -bin value must be base64: %w", name, err)
			}
			value = string(b)
		} else {
			for _, r := range value {
				if r < 0x20 || r > 0x7e {
					return nil, "", "", fmt.Errorf("grpc: header %q: value %q has a character outside printable ASCII (use a -bin name for binary values)", name, value)
				}
			}
		}
		if len(md[key]) > 0 {
			return nil, "", "", fmt.Errorf("grpc: header %q is given twice (names are case-insensitive)", key)
		}
		md[key] = []string{value}
	}
	if len(cookies) > 0 {
		var b strings.Builder
		for i, n := range slices.Sorted(maps.Keys(cookies)) {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(n + "=" + cookies[n])
		}
		md.Append("cookie", b.String())
	}
	if len(md) == 0 {
		md = nil
	}
	return md, authority, userAgent, nil
}

func decodeBase64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// newTLSConfig builds the client TLS configuration from the TLS options.
func newTLSConfig(opts load.Options, serverName string) (*tls.Config, error) {
	cfg, err := opts.TLSConfig(serverName)
	if err != nil {
		return nil, fmt.Errorf("grpc: %w", err)
	}
	return cfg, nil
}
