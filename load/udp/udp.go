// Package udp is the UDP load driver: each request sends one datagram and
// waits for one datagram back. A reply that does not come within the
// timeout is a lost datagram: an error that wraps ErrLost, reported when
// the timeout passes, so that loss is counted rather than hung on.
//
// The endpoint is udp://host:port. The payload is load.Options.Body, or
// DefaultPayload when it is empty. Options.Timeout is how long a reply may
// take; it defaults to 1s rather than the 30s of the connection-oriented
// drivers, because every lost datagram costs a worker that long.
// Headers, cookies, HTTP method, content type and TLS options have no
// meaning here and are rejected.
//
// # Matching replies to requests
//
// A reply that comes after its request timed out must not be taken for
// the reply to the next request. With sequence numbers on (the default
// with the built-in payload), each datagram starts with an 8-byte request
// number, big-endian, before the payload; a reply must start with the same
// 8 bytes (an echo server's do), and replies to earlier requests are
// skipped. With a payload of your own the datagram is sent as given, and
// any datagram from the server is the reply.
//
// # additional_options
//
// Protocol options come from the SMP config's additional_options, a JSON
// object read by ParseOptions:
//
//	"sequence"           bool: prefix datagrams with a request number and
//	                     match replies by it (default: true for the
//	                     built-in payload, false for a given body)
//	"max_response_bytes" number: the largest reply accepted (default 65535)
//
// Unknown keys are an error.
//
// Do allocates nothing when the reply comes (a loss allocates its error).
package udp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smp-project/smp/load"
)

// DefaultTimeout is how long a reply may take when Options.Timeout is 0.
const DefaultTimeout = time.Second

// DefaultPayload is sent (after the sequence number) when Options.Body is
// empty.
const DefaultPayload = "smp udp payload\n"

// seqLen is the length of the sequence number prefix.
const seqLen = 8

const defaultMaxResponse = 65535

// ErrLost is wrapped by the error of a request whose reply did not come
// within the timeout. It is a net.Error whose Timeout method returns true,
// so load.Classify counts a loss as a timeout until the engine has a kind
// of its own for it; errors.Is(err, ErrLost) tells it apart.
var ErrLost error = lostError{}

type lostError struct{}

func (lostError) Error() string   { return "datagram lost" }
func (lostError) Timeout() bool   { return true }
func (lostError) Temporary() bool { return true }

// Lost marks the error for load.Classify, which counts it as "lost" rather
// than as a timeout without importing this package.
func (lostError) Lost() bool { return true }

// Config holds the UDP options that load.Options has no field for; they
// come from additional_options (see the package documentation).
type Config struct {
	// Sequence numbers datagrams and matches replies; nil means on for
	// the built-in payload and off for a given body.
	Sequence *bool `json:"sequence,omitempty"`
	// MaxResponseBytes bounds a reply; 0 means 65535. A longer one is
	// an error.
	MaxResponseBytes int `json:"max_response_bytes,omitempty"`
}

const optionKeys = "sequence, max_response_bytes"

// ParseOptions reads the UDP options from the JSON object of an SMP
// config's additional_options; "" or "null" means none.
func ParseOptions(additionalOptionsJSON string) (Config, error) {
	var cfg Config
	if err := load.DecodeOptions(additionalOptionsJSON, &cfg, optionKeys); err != nil {
		return Config{}, fmt.Errorf("udp: %w", err)
	}
	if err := cfg.check(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func (c *Config) check() error {
	if c.MaxResponseBytes < 0 || c.MaxResponseBytes > defaultMaxResponse {
		return fmt.Errorf("udp: max_response_bytes %d must be from 1 to %d", c.MaxResponseBytes, defaultMaxResponse)
	}
	return nil
}

// Driver opens UDP sockets to one endpoint. It is safe for concurrent use.
type Driver struct {
	addr     string
	payload  []byte // without the sequence number
	sequence bool
	maxResp  int
	timeout  time.Duration
	closed   atomic.Bool
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
		return nil, fmt.Errorf("udp: negative timeout %v", opts.Timeout)
	}
	switch {
	case len(opts.Headers) > 0 || len(opts.Cookies) > 0:
		return nil, errors.New("udp: headers and cookies have no meaning for UDP")
	case opts.Method != "" || opts.ContentType != "":
		return nil, errors.New("udp: an HTTP method or content type has no meaning for UDP")
	case opts.InsecureSkipVerify || opts.CAFile != "" || opts.CertFile != "" || opts.KeyFile != "":
		return nil, errors.New("udp: TLS (DTLS) is not supported by the UDP driver")
	}
	d := &Driver{addr: addr, payload: opts.Body, maxResp: cfg.MaxResponseBytes, timeout: opts.Timeout}
	if d.timeout == 0 {
		d.timeout = DefaultTimeout
	}
	if d.maxResp == 0 {
		d.maxResp = defaultMaxResponse
	}
	d.sequence = len(d.payload) == 0
	if len(d.payload) == 0 {
		d.payload = []byte(DefaultPayload)
	}
	if cfg.Sequence != nil {
		d.sequence = *cfg.Sequence
	}
	size := len(d.payload)
	if d.sequence {
		size += seqLen
	}
	if size > defaultMaxResponse {
		return nil, fmt.Errorf("udp: a datagram of %d bytes is too large (at most %d)", size, defaultMaxResponse)
	}
	return d, nil
}

// parseURL reads udp://host:port.
func parseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("udp: parse URL: %w", err)
	}
	if u.Scheme != "udp" {
		return "", fmt.Errorf("udp: unsupported URL scheme %q in %q (want udp://host:port)", u.Scheme, raw)
	}
	if u.Hostname() == "" || u.Port() == "" {
		return "", fmt.Errorf("udp: URL %q needs a host and a port (udp://host:port)", raw)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("udp: URL %q: a UDP endpoint is only udp://host:port", raw)
	}
	return net.JoinHostPort(u.Hostname(), u.Port()), nil
}

// Open returns a Conn with its own connected socket (its own local port,
// so that replies reach the Conn that asked).
func (d *Driver) Open(ctx context.Context) (load.Conn, error) {
	if d.closed.Load() {
		return nil, errors.New("udp: open: driver is closed")
	}
	var dialer net.Dialer
	nc, err := dialer.DialContext(ctx, "udp", d.addr)
	if err != nil {
		return nil, fmt.Errorf("udp: open socket to %s: %w", d.addr, err)
	}
	c := &Conn{d: d, nc: nc, in: make([]byte, d.maxResp+1)}
	if d.sequence {
		c.out = make([]byte, seqLen+len(d.payload))
		copy(c.out[seqLen:], d.payload)
	} else {
		c.out = d.payload
	}
	c.abortFn = c.abort
	return c, nil
}

// Close makes later Opens fail; open Conns stay usable until closed.
func (d *Driver) Close() error {
	d.closed.Store(true)
	return nil
}

// Conn is one UDP socket. It is used by one goroutine at a time, as
// load.Conn requires.
type Conn struct {
	d   *Driver
	nc  net.Conn
	out []byte // the datagram; its first 8 bytes are the sequence number
	in  []byte // one byte more than the largest reply, to see a longer one
	seq uint64

	mu        sync.Mutex // guards the deadline set by abort against Close
	abortFn   func()
	watched   <-chan struct{}
	stopWatch func() bool
	closed    bool
}

var _ load.Conn = (*Conn)(nil)

func (c *Conn) abort() {
	c.mu.Lock()
	if !c.closed {
		c.nc.SetDeadline(time.Unix(1, 0))
	}
	c.mu.Unlock()
}

func (c *Conn) watch(ctx context.Context) {
	done := ctx.Done()
	if done == c.watched {
		return
	}
	if c.stopWatch != nil {
		c.stopWatch()
		c.stopWatch = nil
	}
	c.watched = done
	if done != nil {
		c.stopWatch = context.AfterFunc(ctx, c.abortFn)
	}
}

// Do sends one datagram and waits for its reply, until the timeout.
func (c *Conn) Do(ctx context.Context) (load.Outcome, error) {
	if c.closed {
		return load.Outcome{}, errors.New("udp: Do on a closed Conn")
	}
	c.watch(ctx)
	if err := c.nc.SetDeadline(time.Now().Add(c.d.timeout)); err != nil {
		return load.Outcome{}, fmt.Errorf("udp: set deadline: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return load.Outcome{}, fmt.Errorf("udp: %w", err)
	}
	c.seq++
	if c.d.sequence {
		binary.BigEndian.PutUint64(c.out, c.seq)
	}
	if _, err := c.nc.Write(c.out); err != nil {
		return load.Outcome{}, c.ioError(ctx, "send", err)
	}
	for {
		n, err := c.nc.Read(c.in)
		if err != nil {
			return load.Outcome{}, c.ioError(ctx, "receive", err)
		}
		if c.d.sequence && (n < seqLen || binary.BigEndian.Uint64(c.in) != c.seq) {
			continue // a late reply to an earlier request
		}
		if n > c.d.maxResp {
			return load.Outcome{}, fmt.Errorf("udp: reply longer than max_response_bytes (%d)", c.d.maxResp)
		}
		return load.Outcome{Bytes: int64(n)}, nil
	}
}

// ioError wraps a socket error: a deadline is a lost datagram, unless the
// run was stopped; anything else (ECONNREFUSED from an ICMP port
// unreachable) is wrapped as it is.
func (c *Conn) ioError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("udp: %s: %w (run stopped: %w)", op, err, ctx.Err())
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("udp: no reply within %v: %w", c.d.timeout, ErrLost)
	}
	return fmt.Errorf("udp: %s: %w", op, err)
}

// Close closes the socket. It is safe to call more than once.
func (c *Conn) Close() error {
	if c.stopWatch != nil {
		c.stopWatch()
		c.stopWatch = nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	return c.nc.Close()
}
