package http1

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/smp-project/smp/internal/rawconn"
	"github.com/smp-project/smp/load"
)

// readBufferSize is the per-connection read buffer. Bodies are discarded
// through it too, so it bounds neither body nor header size; it only sets how
// much one read syscall can take. 8 KiB is what wrk uses.
const readBufferSize = 8 << 10

// Conn is one keep-alive HTTP/1.1 connection. It is used by one goroutine at
// a time, as load.Conn requires.
type Conn struct {
	d  *Driver
	br *bufio.Reader

	// link is the current connection (nil when the next Do must
	// connect), interrupted when the run is cancelled.
	link load.NetConn
	// deadline is the current connection's I/O deadline (zero: none set).
	deadline time.Time

	closed bool
}

var _ load.Conn = (*Conn)(nil)

func newConn(d *Driver) *Conn {
	return &Conn{d: d, br: bufio.NewReaderSize(nil, readBufferSize)}
}

// connect dials the endpoint (and does the TLS handshake) and makes the new
// connection current.
func (c *Conn) connect(ctx context.Context, deadline time.Time) error {
	dialer := net.Dialer{Deadline: deadline}
	nc, err := dialer.DialContext(ctx, "tcp", c.d.addr)
	if err != nil {
		return fmt.Errorf("http1: connect: %w", err)
	}
	nc = rawconn.Wrap(nc)
	if c.d.tlsConfig != nil {
		tc := tls.Client(nc, c.d.tlsConfig)
		if err := nc.SetDeadline(deadline); err != nil {
			nc.Close()
			return fmt.Errorf("http1: connect: %w", err)
		}
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return fmt.Errorf("http1: TLS handshake with %s: %w", c.d.addr, err)
		}
		nc = tc
	}
	c.link.Set(nc)
	c.br.Reset(nc)
	c.deadline = time.Time{} // exchange sets the request's
	return nil
}

// drop closes the current connection so that the next Do reconnects.
func (c *Conn) drop() {
	c.deadline = time.Time{}
	nc := c.link.Take()
	if nc != nil {
		nc.Close()
	}
}

// Do sends the request and reads the whole response.
//
// A request is sent once. When the connection fails — the server reset or
// closed it, while the request was in flight or while the connection sat
// idle before it — Do returns the error (load.Classify names it: reset,
// eof, ...) and drops the connection; the next Do connects a new one.
// Sending the request again instead would hide the failure from the
// results, and the server would count two requests where smp counts one.
//
// When Do connects (after a failure, or after a response that closed the
// connection), Outcome.Connect is the time the dial and TLS handshake took,
// on success and on failure alike; it is 0 on a kept-alive connection.
func (c *Conn) Do(ctx context.Context) (load.Outcome, error) {
	if c.closed {
		return load.Outcome{}, errors.New("http1: Do on a closed Conn")
	}
	// Refusing before any I/O keeps the connection clean for a later
	// context: a run's warm-up may end with a cancellation.
	if err := ctx.Err(); err != nil {
		return load.Outcome{}, fmt.Errorf("http1: %w", err)
	}
	c.link.Watch(ctx)
	start := time.Now()
	deadline := start.Add(c.d.timeout)
	var out load.Outcome
	if c.link.Get() == nil {
		err := c.connect(ctx, deadline)
		out.Connect = max(time.Since(start), 1) // never 0: a reconnect took place
		if err != nil {
			return out, stopped(ctx, err)
		}
	}
	res, err := c.exchange(ctx, deadline)
	if err != nil {
		c.drop()
		return out, stopped(ctx, err)
	}
	// Bytes beyond the response mean the server and we disagree on
	// framing; the connection cannot be trusted for the next one.
	if res.close || c.br.Buffered() > 0 {
		c.drop()
	}
	out.Code, out.Failed, out.Bytes = res.code, res.code >= 400, res.bytes
	return out, nil
}

// exchange writes the request on the current connection and reads the
// response.
//
// The request timeout is a deadline on the connection, but moving it on
// every request cost 8% of the client's CPU in an open loop (the runtime
// re-arms a timer each time). So the deadline is set timeout + timeout/8
// ahead, and only moved when it is nearer than the timeout: a request is
// cut between 1 and 1.125 timeouts after it was sent, never earlier.
func (c *Conn) exchange(ctx context.Context, deadline time.Time) (response, error) {
	if c.deadline.Before(deadline) {
		c.deadline = deadline.Add(c.d.timeout / 8)
		if err := c.link.Get().SetDeadline(c.deadline); err != nil {
			return response{}, fmt.Errorf("http1: set deadline: %w", err)
		}
	}
	// Checked after setting the deadline: if abort ran before, this sees the
	// cancellation; if after, the past deadline it set fails the I/O below.
	if err := ctx.Err(); err != nil {
		return response{}, fmt.Errorf("http1: %w", err)
	}
	if _, err := c.link.Get().Write(c.d.request); err != nil {
		return response{}, fmt.Errorf("http1: write request: %w", err)
	}
	return readResponse(c.br, c.d.head)
}

// stopped reports err as the run stopping when ctx was cancelled.
func stopped(ctx context.Context, err error) error {
	cerr := ctx.Err()
	if cerr == nil || errors.Is(err, cerr) {
		return err
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The past deadline set by abort ended the I/O, not the server or
		// the request timeout: reporting a timeout would blame the target.
		return fmt.Errorf("http1: request interrupted: %w", cerr)
	}
	return fmt.Errorf("%w (run stopped: %w)", err, cerr)
}

// Close closes the connection. It is safe to call more than once.
func (c *Conn) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	c.link.Unwatch()
	nc := c.link.Take()
	if nc == nil {
		return nil
	}
	if err := nc.Close(); err != nil {
		return fmt.Errorf("http1: close: %w", err)
	}
	return nil
}
