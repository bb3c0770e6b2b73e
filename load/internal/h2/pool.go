// Package h2 is the lean HTTP/2 client under the http2 and grpc load
// drivers: framing, flow control, SETTINGS, PING, GOAWAY and RST_STREAM,
// the server's limit on concurrent streams, h2c with prior knowledge and
// TLS with ALPN, written for a load generator's hot path rather than for
// general use.
//
// Requests repeat, so they are encoded once (EncodeBlock): the header block
// uses no dynamic table entries, which makes the same bytes valid on every
// stream of every connection. Responses are decoded by the package's own
// HPACK decoder (hpack.go: the table follows the server's in reused
// buffers; x/net's decoder is its oracle in tests) and only what a load
// test needs is kept: the status, content type and length, the gRPC
// status, the body's size. Sockets are read and written through
// internal/rawconn. In the steady state a request
// allocates nothing: streams, buffers and channels are reused, timeouts are
// enforced by one ticker per connection rather than a timer per request,
// and frames of concurrent requests are written together. The HPACK
// decoder allocates only the strings of literals the server sends without
// a table index (or adds to its table), which Go's servers do once per
// connection and a few others (nginx) on every response.
//
// A Pool groups its Streams Size to a connection; each Stream has at most
// one request in flight, so a group keeps up to Size concurrent streams on
// its connection.
package h2

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2/hpack"
)

// Config says where to connect and how to read responses.
type Config struct {
	Addr    string        // host:port
	TLS     *tls.Config   // nil for h2c with prior knowledge; NextProtos must offer "h2"
	Timeout time.Duration // per request, and for dialling
	// GRPC makes responses be read as gRPC: their DATA as length-prefixed
	// messages (Response.Messages), at most MaxMessage bytes each
	// (0: unbounded).
	GRPC       bool
	MaxMessage int64

	timeoutErr error // shared by every timed-out request: no allocation
}

// Request is a request encoded once and sent many times.
type Request struct {
	Block []byte // the header block, from EncodeBlock
	Body  []byte // the DATA payload; nil or empty for none
	Head  bool   // a HEAD request: its response has no body
}

// EncodeBlock encodes header fields (pseudo-headers first) as an HPACK
// block that uses no dynamic-table entry and adds none, so that it can be
// sent on any stream of any connection as it is.
func EncodeBlock(fields []hpack.HeaderField) []byte {
	var buf []byte
	enc := hpack.NewEncoder(writerFunc(func(p []byte) (int, error) {
		buf = append(buf, p...)
		return len(p), nil
	}))
	enc.SetMaxDynamicTableSizeLimit(0)
	for range 2 {
		// The first round starts with a table size update (to 0), which
		// the server's decoder need not see: nothing this client sends
		// refers to the table. The second round is the same fields
		// without it.
		buf = buf[:0]
		for _, f := range fields {
			enc.WriteField(f)
		}
	}
	return slices.Clone(buf)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Pool opens Streams and shares connections between them. It is safe for
// concurrent use.
type Pool struct {
	cfg    Config
	size   int
	closed atomic.Bool

	mu      sync.Mutex
	filling *group // the group new Streams join until it has size members
	joined  int
	groups  map[*group]struct{}
}

// NewPool returns a pool that puts size Streams on a connection.
func NewPool(cfg Config, size int) *Pool {
	cfg.timeoutErr = fmt.Errorf("no response within %v: %w (%w)", cfg.Timeout, os.ErrDeadlineExceeded, context.DeadlineExceeded)
	return &Pool{cfg: cfg, size: max(size, 1), groups: make(map[*group]struct{})}
}

// Open returns a Stream, connecting its group's connection now if it has
// none, so that an unreachable server is reported here.
func (p *Pool) Open(ctx context.Context) (*Stream, error) {
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		return nil, errors.New("open: driver is closed")
	}
	g := p.filling
	if g == nil || p.joined == p.size {
		g = &group{p: p}
		p.filling, p.joined = g, 0
		p.groups[g] = struct{}{}
	}
	p.joined++
	g.members++
	p.mu.Unlock()
	if _, _, err := g.conn(ctx); err != nil {
		p.leave(g, true)
		return nil, err
	}
	return &Stream{p: p, g: g, s: newStream()}, nil
}

// leave takes a member out of g, closing g's connection after the last one.
// A member whose Open failed gives its place back too.
func (p *Pool) leave(g *group, failedOpen bool) {
	p.mu.Lock()
	g.members--
	if failedOpen && p.filling == g {
		p.joined--
	}
	last := g.members == 0
	if last {
		delete(p.groups, g)
		if p.filling == g {
			p.filling = nil
		}
	}
	p.mu.Unlock()
	if last {
		g.close()
	}
}

// Close closes every connection; Streams still open fail from then on.
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed.Store(true)
	groups := slices.Collect(maps.Keys(p.groups))
	clear(p.groups)
	p.filling = nil
	p.mu.Unlock()
	for _, g := range groups {
		g.close()
	}
}

// group is the Streams sharing one connection, and that connection.
type group struct {
	p       *Pool
	members int // guarded by p.mu

	mu sync.Mutex
	c  *conn // nil until dialled, and after it died
}

// conn returns the group's connection, dialling one if there is none or if
// the one it has takes no new stream. When it dialled it returns how long
// that took (never 0), on failure too; otherwise 0.
func (g *group) conn(ctx context.Context) (*conn, time.Duration, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.c != nil && !g.c.unusable.Load() {
		return g.c, 0, nil
	}
	// A connection going away closes itself after its last stream.
	g.c = nil
	if g.p.closed.Load() {
		return nil, 0, errors.New("driver is closed")
	}
	start := time.Now()
	dctx, cancel := context.WithTimeout(ctx, g.p.cfg.Timeout)
	c, err := dial(dctx, &g.p.cfg)
	cancel()
	connect := max(time.Since(start), 1)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (run stopped: %w)", err, ctx.Err())
		}
		return nil, connect, err
	}
	if g.p.closed.Load() { // Close ran while dialling: it did not see c
		c.close()
		return nil, connect, errors.New("driver is closed")
	}
	g.c = c
	return c, connect, nil
}

func (g *group) close() {
	g.mu.Lock()
	c := g.c
	g.c = nil
	g.mu.Unlock()
	if c != nil {
		c.close()
	}
}

// current returns the group's connection without dialling; for tests.
func (g *group) current() *conn {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.c
}

// Stream sends one request at a time on its group's connection. It is used
// by one goroutine at a time.
type Stream struct {
	p      *Pool
	g      *group
	s      *stream
	closed bool
}

// Do sends req and reads the whole response, within the pool's timeout.
//
// A request is sent once. When the connection is known to be unusable
// before the request goes out (closed, going away, or out of stream
// identifiers), Do dials a new one and sends it there; that is no second
// sending. Any failure once the request is on the connection — the
// connection breaking, a stream reset, a GOAWAY that left it unprocessed —
// is returned, and the next Do dials a new connection if this one can take
// no more streams.
//
// connect is the time a dial took when Do made one (on failure too), else
// 0.
func (st *Stream) Do(ctx context.Context, req *Request) (res Response, connect time.Duration, err error) {
	if st.closed {
		return res, 0, errors.New("Do on a closed Conn")
	}
	if err := ctx.Err(); err != nil {
		return res, 0, interrupted(ctx)
	}
	st.s.deadline = time.Now().Add(st.p.cfg.Timeout)
	for attempt := 0; ; attempt++ {
		c, d, err := st.g.conn(ctx)
		connect += d
		if err != nil {
			return res, connect, err
		}
		res, retry, err := c.roundTrip(ctx, st.s, req)
		if retry && attempt < 2 {
			continue
		}
		return res, connect, err
	}
}

// Close takes the Stream out of its group; the connection is closed with
// the group's last Stream. It is safe to call more than once.
func (st *Stream) Close() {
	if st.closed {
		return
	}
	st.closed = true
	st.p.leave(st.g, false)
}

// Unusable reports whether the Stream's connection is gone or going away,
// so that its next Do dials; for tests that wait for a server's close to be
// seen.
func (st *Stream) Unusable() bool {
	c := st.g.current()
	return c == nil || c.unusable.Load()
}
