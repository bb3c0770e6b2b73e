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
// # Sockets and streams
//
// Options.Streams Conns share one connected socket (one local port), in
// the order they are opened, as Options.Streams Conns share one connection
// in the HTTP/2 and gRPC drivers: N*S Conns make N sockets with up to S
// datagrams in flight on each. A Conn still has at most one request in
// flight; a Conn whose datagram was lost waits out its timeout alone,
// while the other Conns on its socket go on sending and receiving. With
// Streams 1 (the default) every Conn has a socket of its own.
//
// Each socket has one reader goroutine, which reads every reply and hands
// it to the Conn waiting for it. Replies wait for the reader in the
// socket's receive buffer (the kernel's net.core.rmem_default): a burst of
// replies larger than that is dropped by the kernel and counted as lost.
//
// # Matching replies to requests
//
// With sequence numbers on (the default with the built-in payload), each
// datagram starts with an 8-byte request number, big-endian, before the
// payload, and a reply must start with the same 8 bytes (an echo server's
// do). The numbers are unique on a socket: the Conn at place i of a socket
// shared by S (i from 0 to S-1) numbers its n-th request n*S+i, so the
// reader finds the Conn from the number alone (its remainder by S) and
// hands it the reply only if that Conn waits for exactly that number. A
// reply that comes after its request timed out, one too short to hold a
// number, and one whose number no Conn waits for are discarded: a reply
// is never taken for another request's.
//
// With a payload of your own the datagram is sent as given, and the first
// datagram from the server while a request waits is its reply (one that
// comes while none waits is discarded). Such replies cannot be told
// apart, so Streams must then be 1: New rejects more. Set "sequence": true
// if the server echoes the first 8 bytes, or use more connections instead
// of more streams.
//
// An ICMP error (port unreachable, reported as ECONNREFUSED) belongs to
// the socket, not to a datagram: it fails every request waiting on the
// socket when it comes.
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
// Do allocates nothing when the reply comes (a loss allocates its error):
// it waits in a select on a channel and a time.Timer that its Conn made at
// Open, and on the run context's Done channel.
package udp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
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

// Driver opens Conns to one endpoint, Options.Streams of them on each
// socket. It is safe for concurrent use.
type Driver struct {
	addr     string
	payload  []byte // without the sequence number
	sequence bool
	maxResp  int
	timeout  time.Duration
	streams  int

	mu      sync.Mutex
	closed  bool
	filling *group // the socket new Conns join until it has streams of them
	groups  map[*group]struct{}
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
	if opts.Streams < 0 {
		return nil, fmt.Errorf("udp: negative streams per connection %d", opts.Streams)
	}
	switch {
	case len(opts.Headers) > 0 || len(opts.Cookies) > 0:
		return nil, errors.New("udp: headers and cookies have no meaning for UDP")
	case opts.Method != "" || opts.ContentType != "":
		return nil, errors.New("udp: an HTTP method or content type has no meaning for UDP")
	case opts.InsecureSkipVerify || opts.CAFile != "" || opts.CertFile != "" || opts.KeyFile != "":
		return nil, errors.New("udp: TLS (DTLS) is not supported by the UDP driver")
	}
	d := &Driver{
		addr:    addr,
		payload: opts.Body,
		maxResp: cfg.MaxResponseBytes,
		timeout: opts.Timeout,
		streams: max(opts.Streams, 1),
		groups:  make(map[*group]struct{}),
	}
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
	if !d.sequence && d.streams > 1 {
		return nil, fmt.Errorf("udp: %d streams per connection need sequence numbers to tell the replies on a shared socket apart, "+
			"and they are off (a payload of your own is sent as given): set \"sequence\": true in additional_options "+
			"if the server echoes the first 8 bytes, or use streams 1 and more connections", d.streams)
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

// Open returns a Conn. Conns are grouped Options.Streams to a connected
// socket, in the order they are opened; the first Conn of a group makes
// the socket, so that an address that cannot be used is reported here.
func (d *Driver) Open(ctx context.Context) (load.Conn, error) {
	d.mu.Lock()
	if c, err := d.join(); c != nil || err != nil {
		d.mu.Unlock()
		return c, err
	}
	d.mu.Unlock()

	// The socket is made outside the lock: resolving the host may take a
	// while. Opens running at the same time may each make one; those that
	// then find a group with room join it and close theirs.
	var dialer net.Dialer
	nc, err := dialer.DialContext(ctx, "udp", d.addr)
	if err != nil {
		return nil, fmt.Errorf("udp: open socket to %s: %w", d.addr, err)
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	if c, err := d.join(); c != nil || err != nil {
		nc.Close() // another Open made the group this Conn joined
		return c, err
	}
	g := newGroup(d, nc.(*net.UDPConn))
	d.filling = g
	d.groups[g] = struct{}{}
	c := g.add()
	go g.read()
	return c, nil
}

// join adds a Conn to the group being filled, if there is one with room.
// d.mu is held.
func (d *Driver) join() (*Conn, error) {
	if d.closed {
		return nil, errors.New("udp: open: driver is closed")
	}
	if g := d.filling; g != nil && g.joined < d.streams {
		return g.add(), nil
	}
	return nil, nil
}

// leave takes a Conn out of g, closing g's socket after the last one.
func (d *Driver) leave(g *group) error {
	d.mu.Lock()
	g.members--
	last := g.members == 0
	if last {
		delete(d.groups, g)
		if d.filling == g {
			d.filling = nil
		}
	}
	d.mu.Unlock()
	if last {
		return g.close()
	}
	return nil
}

// Close makes later Opens fail and closes every socket; Conns still open
// fail their requests from then on, and their Close is harmless.
func (d *Driver) Close() error {
	d.mu.Lock()
	d.closed = true
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

// Protocol is UDP, which has no status codes.
func (d *Driver) Protocol() load.Protocol { return load.Protocol{Name: "udp"} }

// group is a socket, the Conns that share it and its reader.
type group struct {
	d       *Driver
	nc      *net.UDPConn
	joined  int // Conns that joined, the next one's place; guarded by d.mu
	members int // Conns not yet closed; guarded by d.mu

	// conns holds the Conns by place; the reader looks a reply's Conn up
	// here without a lock. A closed Conn's place is nil.
	conns []atomic.Pointer[Conn]
	buf   []byte // the reader's: one byte more than the largest reply

	// discarded counts the datagrams no Conn waited for: late replies,
	// replies too short to hold a sequence number, strangers.
	discarded atomic.Int64

	closeOnce sync.Once
	closeErr  error
	done      chan struct{} // closed when the reader has returned
}

func newGroup(d *Driver, nc *net.UDPConn) *group {
	return &group{
		d:     d,
		nc:    nc,
		conns: make([]atomic.Pointer[Conn], d.streams),
		buf:   make([]byte, d.maxResp+1),
		done:  make(chan struct{}),
	}
}

// add makes the Conn at the next place of g. d.mu is held.
func (g *group) add() *Conn {
	c := &Conn{
		g:     g,
		place: uint64(g.joined),
		size:  uint64(g.d.streams),
		reply: make(chan reply, 1),
		timer: time.NewTimer(time.Hour),
	}
	c.timer.Stop()
	if g.d.sequence {
		c.out = make([]byte, seqLen+len(g.d.payload))
		copy(c.out[seqLen:], g.d.payload)
	} else {
		c.out = g.d.payload
	}
	g.conns[c.place].Store(c)
	g.joined++
	g.members++
	return c
}

// close closes the socket and waits for the reader to return. It is safe
// to call more than once.
func (g *group) close() error {
	g.closeOnce.Do(func() {
		if err := g.nc.Close(); err != nil {
			g.closeErr = fmt.Errorf("udp: close socket: %w", err)
		}
	})
	<-g.done
	return g.closeErr
}

// read is the group's reader: it hands every datagram that comes to the
// Conn waiting for it, until the socket is closed.
func (g *group) read() {
	defer close(g.done)
	failedBefore := false
	for {
		n, err := g.nc.Read(g.buf)
		if err != nil {
			// An ICMP error (ECONNREFUSED: port unreachable) is the
			// socket's, not one datagram's.
			g.failWaiting(err)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if failedBefore {
				// Errors one after another without a datagram between
				// them: pause so that one that persists cannot spin.
				time.Sleep(time.Millisecond)
			}
			failedBefore = true
			continue
		}
		failedBefore = false
		var c *Conn
		var seq uint64
		if g.d.sequence {
			if n < seqLen {
				g.discarded.Add(1)
				continue
			}
			seq = binary.BigEndian.Uint64(g.buf)
			c = g.conns[seq%uint64(len(g.conns))].Load()
		} else if c = g.conns[0].Load(); c != nil {
			seq = c.want.Load() // any datagram answers the request waiting
		}
		if c == nil || seq == 0 || !c.want.CompareAndSwap(seq, 0) {
			g.discarded.Add(1) // late, or for no request of ours
			continue
		}
		c.reply <- reply{n: n}
	}
}

// failWaiting ends every request waiting on the socket with err.
func (g *group) failWaiting(err error) {
	for i := range g.conns {
		c := g.conns[i].Load()
		if c == nil {
			continue
		}
		if seq := c.want.Load(); seq != 0 && c.want.CompareAndSwap(seq, 0) {
			c.reply <- reply{err: err}
		}
	}
}

// reply is what the reader hands a Conn: the length of its reply, or the
// socket's error.
type reply struct {
	n   int
	err error
}

// Conn is one place on a shared socket: one request in flight at a time.
// It is used by one goroutine at a time, as load.Conn requires.
//
// A request is the Conn's want, the sequence number it waits for (0 when
// none). Whoever sets want back to 0 by compare-and-swap owns the
// request's end: the reader when the reply comes, which then sends the
// reply on the Conn's channel, or Do when the timeout passes or the run is
// cancelled. Exactly one of them wins, so the channel (of one place) never
// holds a stale reply, and a reply that comes after the timeout finds
// want changed and is discarded.
//
// Numbering requests n*S+place lets the reader find the Conn by indexing
// a fixed table with the number's remainder by S and check the rest with
// one compare-and-swap: no map, no lock and no allocation per request,
// and a number is never used twice on a socket. The wait is a select on
// the channel, a timer reused from request to request and the run
// context's Done channel, so cancellation needs no context.AfterFunc and
// the deadline no new timer.
type Conn struct {
	g     *group
	place uint64 // in the group
	size  uint64 // the group's places
	out   []byte // the datagram; its first 8 bytes are the sequence number
	n     uint64 // requests sent; the next is numbered (n+1)*size + place

	want   atomic.Uint64
	reply  chan reply
	timer  *time.Timer
	closed bool
}

var _ load.Conn = (*Conn)(nil)

// Do sends one datagram and waits for its reply, until the timeout.
func (c *Conn) Do(ctx context.Context) (load.Outcome, error) {
	if c.closed {
		return load.Outcome{}, errors.New("udp: Do on a closed Conn")
	}
	if err := ctx.Err(); err != nil {
		return load.Outcome{}, fmt.Errorf("udp: %w", err)
	}
	c.n++
	seq := c.n*c.size + c.place // never 0: c.n and c.size are at least 1
	if c.g.d.sequence {
		binary.BigEndian.PutUint64(c.out, seq)
	}
	c.timer.Reset(c.g.d.timeout)
	c.want.Store(seq) // before the datagram goes, so that its reply finds it
	if _, err := c.g.nc.Write(c.out); err != nil {
		c.timer.Stop()
		if r, ok := c.withdraw(seq); ok && r.err != nil {
			err = r.err // the socket's error, which the reader got first
		}
		return load.Outcome{}, c.ioError(ctx, "send", err)
	}
	var r reply
	select {
	case r = <-c.reply:
		c.timer.Stop()
	case <-c.timer.C:
		var ok bool
		if r, ok = c.withdraw(seq); !ok {
			return load.Outcome{}, c.lost(ctx)
		}
		// The reply came as the timer fired: it is in time.
	case <-ctx.Done():
		c.timer.Stop()
		var ok bool
		if r, ok = c.withdraw(seq); !ok {
			return load.Outcome{}, fmt.Errorf("udp: receive: %w", ctx.Err())
		}
		// The reply came as the run stopped: the exchange is complete.
	}
	if r.err != nil {
		return load.Outcome{}, c.ioError(ctx, "receive", r.err)
	}
	if r.n > c.g.d.maxResp {
		return load.Outcome{}, fmt.Errorf("udp: reply longer than max_response_bytes (%d)", c.g.d.maxResp)
	}
	return load.Outcome{Bytes: int64(r.n)}, nil
}

// withdraw ends the wait for seq. If the reader got there first it
// returns what the reader sent, which is on its way.
func (c *Conn) withdraw(seq uint64) (reply, bool) {
	if c.want.CompareAndSwap(seq, 0) {
		return reply{}, false
	}
	return <-c.reply, true
}

// ioError wraps a socket error (ECONNREFUSED from an ICMP port
// unreachable, or the socket closed) as it is.
func (c *Conn) ioError(ctx context.Context, op string, err error) error {
	return stopped(ctx, fmt.Errorf("udp: %s: %w", op, err))
}

// lost is the error of a request whose reply did not come in time.
func (c *Conn) lost(ctx context.Context) error {
	return stopped(ctx, fmt.Errorf("udp: no reply within %v: %w", c.g.d.timeout, ErrLost))
}

// stopped marks err when the run was stopped meanwhile.
func stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (run stopped: %w)", err, ctx.Err())
	}
	return err
}

// Close gives the Conn's place up; the last Conn of a socket closes it. It
// is safe to call more than once.
func (c *Conn) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	c.timer.Stop()
	c.g.conns[c.place].CompareAndSwap(c, nil)
	return c.g.d.leave(c.g)
}
