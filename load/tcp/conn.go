package tcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/smp-project/smp/internal/rawconn"
	"github.com/smp-project/smp/load"
)

// Conn sends requests one at a time, on one persistent connection or on a
// new connection each. It is used by one goroutine at a time, as load.Conn
// requires.
type Conn struct {
	d   *Driver
	buf []byte

	// link is the current connection (nil when the next Do must
	// connect), interrupted when the run is cancelled.
	link load.NetConn

	closed bool
}

var _ load.Conn = (*Conn)(nil)

func newConn(d *Driver) *Conn {
	return &Conn{d: d, buf: make([]byte, d.bufSize)}
}

// connect dials the endpoint and makes the connection current.
func (c *Conn) connect(ctx context.Context, deadline time.Time) error {
	dialer := net.Dialer{Deadline: deadline}
	nc, err := dialer.DialContext(ctx, "tcp", c.d.addr)
	if err != nil {
		return fmt.Errorf("tcp: connect: %w", err)
	}
	nc = rawconn.Wrap(nc)
	c.link.Set(nc)
	return nil
}

// drop closes the current connection so that the next Do reconnects.
func (c *Conn) drop() {
	nc := c.link.Take()
	if nc == nil {
		return
	}
	if c.d.lingerZero {
		if tc, ok := rawconn.Unwrap(nc).(*net.TCPConn); ok {
			// A reset instead of a FIN: no TIME_WAIT on our side.
			_ = tc.SetLinger(0)
		}
	}
	nc.Close()
}

// Do writes the payload and reads the response.
//
// A request is sent once. When the connection fails — the server reset or
// closed it, while the request was in flight or while the connection sat
// idle before it — Do returns the error (load.Classify names it: reset,
// eof, ...) and drops the connection; the next Do connects a new one.
//
// When Do connects, Outcome.Connect is the time the dial took, on success
// and on failure alike; it is 0 on a persistent connection that was reused.
// With connection_per_request every Do connects, so every Outcome carries
// its connect time: it is part of the request's latency there (that is what
// the mode measures), and reported apart as well.
func (c *Conn) Do(ctx context.Context) (load.Outcome, error) {
	if c.closed {
		return load.Outcome{}, errors.New("tcp: Do on a closed Conn")
	}
	c.link.Watch(ctx)
	start := time.Now()
	deadline := start.Add(c.d.timeout)
	var out load.Outcome
	if c.link.Get() == nil {
		err := c.connect(ctx, deadline)
		out.Connect = max(time.Since(start), 1) // never 0: a connect took place
		if err != nil {
			return out, stopped(ctx, err)
		}
	}
	n, err := c.exchange(ctx, deadline)
	if err != nil {
		c.drop()
		return out, stopped(ctx, err)
	}
	if c.d.perRequest {
		c.drop()
	}
	out.Bytes = int64(n)
	return out, nil
}

// exchange writes the payload on the current connection and reads the
// response; it returns the response bytes read.
func (c *Conn) exchange(ctx context.Context, deadline time.Time) (int, error) {
	if err := c.link.Get().SetDeadline(deadline); err != nil {
		return 0, fmt.Errorf("tcp: set deadline: %w", err)
	}
	// Checked after setting the deadline: if abort ran before, this sees
	// the cancellation; if after, its past deadline fails the I/O below.
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("tcp: %w", err)
	}
	if _, err := c.link.Get().Write(c.d.payload); err != nil {
		return 0, fmt.Errorf("tcp: write payload: %w", err)
	}
	return c.d.readResponse(c.link.Get(), c.buf)
}

// stopped reports err as the run stopping when ctx was cancelled, keeping
// both in the chain.
func stopped(ctx context.Context, err error) error {
	if ctx.Err() == nil || errors.Is(err, ctx.Err()) {
		return err
	}
	return fmt.Errorf("%w (run stopped: %w)", err, ctx.Err())
}

// Close closes the connection. It is safe to call more than once.
func (c *Conn) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	c.link.Unwatch()
	c.drop()
	return nil
}
