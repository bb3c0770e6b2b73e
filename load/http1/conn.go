package http1

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

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
	return nil
}

// drop closes the current connection so that the next Do reconnects.
func (c *Conn) drop() {
	nc := c.link.Take()
	if nc != nil {
		nc.Close()
	}
}

// Do sends the request and reads the whole response.
//
// A kept-alive connection that the server closed while idle is redialled and
// the request sent again, once, and only if not a byte of a response came
// back; any other failure is returned, so that no request is silently lost.
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
	deadline := time.Now().Add(c.d.timeout)
	for attempt := 0; ; attempt++ {
		// A connection this Do did not dial may have been closed by the
		// server while it sat idle; only then is a retry warranted.
		reused := c.link.Get() != nil
		if !reused {
			if err := c.connect(ctx, deadline); err != nil {
				return load.Outcome{}, stopped(ctx, err)
			}
		}
		res, err := c.exchange(ctx, deadline)
		if err == nil {
			// Bytes beyond the response mean the server and we disagree on
			// framing; the connection cannot be trusted for the next one.
			if res.close || c.br.Buffered() > 0 {
				c.drop()
			}
			return load.Outcome{Code: res.code, Failed: res.code >= 400, Bytes: res.bytes}, nil
		}
		c.drop()
		if ctx.Err() != nil {
			return load.Outcome{}, stopped(ctx, err)
		}
		if attempt > 0 || !reused || res.received || !staleConnError(err) {
			return load.Outcome{}, err
		}
	}
}

// exchange writes the request on the current connection and reads the
// response.
func (c *Conn) exchange(ctx context.Context, deadline time.Time) (response, error) {
	if err := c.link.Get().SetDeadline(deadline); err != nil {
		return response{}, fmt.Errorf("http1: set deadline: %w", err)
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

// staleConnError reports whether err is how a write to, or a read from, a
// connection that the peer has already closed fails.
func staleConnError(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNABORTED)
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
