package http2

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/net/http2"

	"github.com/smp-project/smp/load"
)

// Conn is one stream's worth of a shared HTTP/2 connection: it has at most
// one request in flight. It is used by one goroutine at a time, as load.Conn
// requires.
type Conn struct {
	d      *Driver
	g      *group
	buf    []byte // response bodies are read into it and dropped
	closed bool
}

var _ load.Conn = (*Conn)(nil)

// Do sends the request and reads the whole response.
//
// When the connection turns out to be dead or going away (closed, GOAWAY,
// REFUSED_STREAM) before any response arrived, and this Do did not dial it,
// the request is sent once more on a new connection; any other failure is
// returned, so that no request is silently lost.
func (c *Conn) Do(ctx context.Context) (load.Outcome, error) {
	if c.closed {
		return load.Outcome{}, errors.New("http2: Do on a closed Conn")
	}
	rctx, cancel := context.WithTimeout(ctx, c.d.timeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		cc, dialed, err := c.g.conn(rctx)
		if err != nil {
			return load.Outcome{}, c.fail(ctx, rctx, err)
		}
		// A shallow copy of the shared template carries this request's
		// context; the template's header map is only ever read. The body
		// reader is new each time because the transport may still be
		// reading or closing the previous one when RoundTrip returns.
		req := c.d.tmpl.WithContext(rctx)
		if len(c.d.body) > 0 {
			req.Body = &bodyReader{b: c.d.body}
		}
		resp, err := cc.RoundTrip(req)
		if err != nil {
			dead := c.g.retire(cc)
			if attempt == 0 && rctx.Err() == nil && ((dead && !dialed) || refusedStream(err)) {
				continue
			}
			return load.Outcome{}, c.fail(ctx, rctx, fmt.Errorf("http2: round trip: %w", err))
		}
		n, err := drain(resp.Body, c.buf)
		resp.Body.Close()
		if err != nil {
			c.g.retire(cc)
			return load.Outcome{}, c.fail(ctx, rctx, fmt.Errorf("http2: read body (%d bytes in): %w", n, err))
		}
		return load.Outcome{Code: resp.StatusCode, Failed: resp.StatusCode >= 400, Bytes: n}, nil
	}
}

// fail adds to err why the request's context ended, if it did: the run
// stopping, or the per-request timeout, which is also reported as
// os.ErrDeadlineExceeded like a network deadline is by the other drivers.
func (c *Conn) fail(ctx, rctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		if errors.Is(err, ctx.Err()) {
			return err
		}
		return fmt.Errorf("%w (run stopped: %w)", err, ctx.Err())
	case rctx.Err() != nil:
		return fmt.Errorf("%w (%w after %v)", err, os.ErrDeadlineExceeded, c.d.timeout)
	default:
		return err
	}
}

// refusedStream reports whether the server refused the stream before
// processing it (RFC 9113 8.7), which makes a retry safe.
func refusedStream(err error) bool {
	var se http2.StreamError
	return errors.As(err, &se) && se.Code == http2.ErrCodeRefusedStream
}

// drain reads body to its end into buf and returns its length.
func drain(body io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		m, err := body.Read(buf)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// Close takes the Conn out of its group; the connection is closed with the
// group's last Conn. It is safe to call more than once.
func (c *Conn) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	c.d.leave(c.g, false)
	return nil
}

// bodyReader is a request body that needs no Close.
type bodyReader struct {
	b   []byte
	off int
}

func (r *bodyReader) Read(p []byte) (int, error) {
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

func (r *bodyReader) Close() error { return nil }
