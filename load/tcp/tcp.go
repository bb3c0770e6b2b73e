// Package tcp is the TCP load driver: each request writes a payload and
// reads a response of known length, or up to a delimiter, over a raw TCP
// connection. It measures the L4 cost that every mesh adds (a sidecar
// proxies each byte), and, with a new connection per request, the cost of
// setting connections up, which is what mTLS and traffic interception make
// expensive.
//
// The endpoint is tcp://host:port. The payload is load.Options.Body, or
// DefaultPayload when it is empty. Options.Timeout bounds each request
// (30s by default), connecting included. Headers, cookies, HTTP method,
// content type and TLS options have no meaning here and are rejected.
//
// # additional_options
//
// Protocol options come from the SMP config's additional_options, a JSON
// object read by ParseOptions:
//
//	"response_bytes"         number: bytes that make a response (default:
//	                         the payload's length, as an echo server answers);
//	                         0 means the request needs no answer
//	"delimiter"              string: a response ends with this string
//	                         instead (e.g. "\n"); bytes past it are an error
//	"max_response_bytes"     number: with a delimiter, the longest response
//	                         (default 1 MiB)
//	"connection_per_request" bool: open a new connection for each request
//	                         and close it after the response (latency then
//	                         includes the TCP handshake, which each
//	                         Outcome.Connect also reports apart)
//	"linger_zero"            bool: with connection_per_request, close with a
//	                         reset (SO_LINGER 0), so that the client's ports
//	                         are not held in TIME_WAIT at high connection rates
//
// Unknown keys are an error.
//
// On a persistent connection Do allocates nothing: the payload is written
// from one slice and the response read into a per-connection buffer.
package tcp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/smp-project/smp/load"
)

// DefaultTimeout is the per-request timeout when Options.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// DefaultPayload is what a request sends when Options.Body is empty: small,
// printable and newline-terminated, so that line-based servers answer too.
const DefaultPayload = "smp tcp payload\n"

// defaultMaxResponse bounds a delimited response by default.
const defaultMaxResponse = 1 << 20

// maxBuffer caps the per-connection read buffer: a longer response is read
// through it in pieces.
const maxBuffer = 32 << 10

// Config holds the TCP options that load.Options has no field for; they
// come from additional_options (see the package documentation). The zero
// value reads back as many bytes as it sent, on persistent connections.
type Config struct {
	// ResponseBytes is the length of a response; nil means the payload's.
	ResponseBytes *int `json:"response_bytes,omitempty"`
	// Delimiter ends a response instead of a length.
	Delimiter string `json:"delimiter,omitempty"`
	// MaxResponseBytes bounds a delimited response; 0 means 1 MiB.
	MaxResponseBytes int `json:"max_response_bytes,omitempty"`
	// ConnectionPerRequest opens and closes a connection per request.
	ConnectionPerRequest bool `json:"connection_per_request,omitempty"`
	// LingerZero closes per-request connections with a reset.
	LingerZero bool `json:"linger_zero,omitempty"`
}

const optionKeys = "response_bytes, delimiter, max_response_bytes, connection_per_request, linger_zero"

// ParseOptions reads the TCP options from the JSON object of an SMP
// config's additional_options; "" or "null" means none.
func ParseOptions(additionalOptionsJSON string) (Config, error) {
	var cfg Config
	if err := load.DecodeOptions(additionalOptionsJSON, &cfg, optionKeys); err != nil {
		return Config{}, fmt.Errorf("tcp: %w", err)
	}
	if err := cfg.check(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func (c *Config) check() error {
	if c.ResponseBytes != nil && *c.ResponseBytes < 0 {
		return fmt.Errorf("tcp: response_bytes %d must not be negative", *c.ResponseBytes)
	}
	if c.ResponseBytes != nil && c.Delimiter != "" {
		return errors.New("tcp: response_bytes and delimiter are two ways to end a response: give one")
	}
	if c.MaxResponseBytes < 0 {
		return fmt.Errorf("tcp: max_response_bytes %d must not be negative", c.MaxResponseBytes)
	}
	if c.MaxResponseBytes > 0 && c.Delimiter == "" {
		return errors.New("tcp: max_response_bytes applies only with a delimiter")
	}
	if c.LingerZero && !c.ConnectionPerRequest {
		return errors.New("tcp: linger_zero applies only with connection_per_request")
	}
	return nil
}

// Driver opens TCP connections to one endpoint. It is safe for concurrent
// use.
type Driver struct {
	addr       string
	payload    []byte
	expect     int    // response length, when delim is nil
	delim      []byte // response terminator, or nil
	maxResp    int
	perRequest bool
	lingerZero bool
	timeout    time.Duration
	bufSize    int
	closed     atomic.Bool
}

var _ load.Driver = (*Driver)(nil)

// New validates opts and cfg.
func New(opts load.Options, cfg Config) (*Driver, error) {
	addr, err := parseURL(opts.URL)
	if err != nil {
		return nil, err
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("tcp: negative timeout %v", opts.Timeout)
	}
	if err := checkUnused(opts); err != nil {
		return nil, err
	}
	d := &Driver{
		addr:       addr,
		payload:    opts.Body,
		delim:      []byte(cfg.Delimiter),
		maxResp:    cfg.MaxResponseBytes,
		perRequest: cfg.ConnectionPerRequest,
		lingerZero: cfg.LingerZero,
		timeout:    opts.Timeout,
	}
	if len(d.payload) == 0 {
		d.payload = []byte(DefaultPayload)
	}
	if d.timeout == 0 {
		d.timeout = DefaultTimeout
	}
	d.expect = len(d.payload)
	if cfg.ResponseBytes != nil {
		d.expect = *cfg.ResponseBytes
	}
	if len(d.delim) == 0 {
		d.delim = nil
		d.bufSize = min(max(d.expect, 1), maxBuffer)
	} else {
		if d.maxResp == 0 {
			d.maxResp = defaultMaxResponse
		}
		if d.maxResp < len(d.delim) {
			return nil, fmt.Errorf("tcp: max_response_bytes %d is shorter than the delimiter", d.maxResp)
		}
		// Room for a typical response in one read, and for the tail of
		// a delimiter split across reads.
		d.bufSize = min(max(4<<10, 2*len(d.delim)), maxBuffer+len(d.delim))
	}
	return d, nil
}

// parseURL reads tcp://host:port.
func parseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("tcp: parse URL: %w", err)
	}
	if u.Scheme != "tcp" {
		return "", fmt.Errorf("tcp: unsupported URL scheme %q in %q (want tcp://host:port)", u.Scheme, raw)
	}
	if u.Hostname() == "" || u.Port() == "" {
		return "", fmt.Errorf("tcp: URL %q needs a host and a port (tcp://host:port)", raw)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("tcp: URL %q: a TCP endpoint is only tcp://host:port", raw)
	}
	return net.JoinHostPort(u.Hostname(), u.Port()), nil
}

// checkUnused rejects options that TCP cannot honour, rather than ignore
// them and measure something else than asked.
func checkUnused(opts load.Options) error {
	switch {
	case len(opts.Headers) > 0 || len(opts.Cookies) > 0:
		return errors.New("tcp: headers and cookies have no meaning for raw TCP")
	case opts.Method != "" || opts.ContentType != "":
		return errors.New("tcp: an HTTP method or content type has no meaning for raw TCP")
	case opts.InsecureSkipVerify || opts.CAFile != "" || opts.CertFile != "" || opts.KeyFile != "":
		return errors.New("tcp: TLS is not supported by the TCP driver")
	}
	return nil
}

// Open returns a Conn. In the persistent mode it connects at once, so that
// an unreachable target is reported here.
func (d *Driver) Open(ctx context.Context) (load.Conn, error) {
	if d.closed.Load() {
		return nil, errors.New("tcp: open: driver is closed")
	}
	c := newConn(d)
	if !d.perRequest {
		if err := c.connect(ctx, time.Now().Add(d.timeout)); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Close makes later Opens fail; open Conns stay usable until closed.
func (d *Driver) Close() error {
	d.closed.Store(true)
	return nil
}

// Protocol is TCP, which has no status codes.
func (d *Driver) Protocol() load.Protocol { return load.Protocol{Name: "tcp"} }

// errExtraBytes is wrapped when a server sends more than a response.
var errExtraBytes = errors.New("bytes past the end of the response")

// readResponse reads one response from nc into buf and returns its length.
func (d *Driver) readResponse(nc net.Conn, buf []byte) (int, error) {
	if d.delim == nil {
		return d.readN(nc, buf)
	}
	return d.readDelimited(nc, buf)
}

// readN reads exactly d.expect bytes, through buf.
func (d *Driver) readN(nc net.Conn, buf []byte) (int, error) {
	got := 0
	for got < d.expect {
		n, err := nc.Read(buf[:min(len(buf), d.expect-got)])
		got += n
		if err != nil {
			if err == io.EOF && got > 0 {
				err = io.ErrUnexpectedEOF
			}
			return got, fmt.Errorf("tcp: read response (%d of %d bytes): %w", got, d.expect, err)
		}
	}
	return got, nil
}

// readDelimited reads up to and including the delimiter. Only the tail of
// what was read (shorter than the delimiter) is kept between reads, so a
// long response needs no long buffer.
func (d *Driver) readDelimited(nc net.Conn, buf []byte) (int, error) {
	keep, got := 0, 0
	for {
		n, err := nc.Read(buf[keep:])
		got += n
		if n > 0 {
			window := buf[:keep+n]
			if i := bytes.Index(window, d.delim); i >= 0 {
				if end := i + len(d.delim); end != len(window) {
					return got, fmt.Errorf("tcp: read response: %d %w (after the delimiter)", len(window)-end, errExtraBytes)
				}
				return got, nil
			}
			if got > d.maxResp {
				return got, fmt.Errorf("tcp: read response: no delimiter %q in the first %d bytes (max_response_bytes)", d.delim, d.maxResp)
			}
			keep = min(len(d.delim)-1, len(window))
			copy(buf, window[len(window)-keep:])
		}
		if err != nil {
			if err == io.EOF && got > 0 {
				err = io.ErrUnexpectedEOF
			}
			return got, fmt.Errorf("tcp: read response (%d bytes, no delimiter yet): %w", got, err)
		}
	}
}
