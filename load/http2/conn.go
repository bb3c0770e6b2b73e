package http2

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

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
// A request is sent once. When the connection is known to be unusable
// before the request goes out (closed, or going away after a GOAWAY), Do
// dials a new one first and sends the request there; that is not a second
// sending. Any failure once the request is handed to the connection — the
// connection breaking, a stream reset, REFUSED_STREAM, a GOAWAY that left
// the stream unprocessed — is returned, the connection retired if it can
// take no more requests, and the next Do dials a new one.
//
// When this Do dials, Outcome.Connect is the time the dial, TLS handshake
// and HTTP/2 preface took, on success and on failure alike. Conns of the
// same group that waited for that dial report 0 (their latency includes
// the wait).
func (c *Conn) Do(ctx context.Context) (load.Outcome, error) {
	if c.closed {
		return load.Outcome{}, errors.New("http2: Do on a closed Conn")
	}
	rctx, cancel := context.WithTimeout(ctx, c.d.timeout)
	defer cancel()
	var out load.Outcome
	cc, connect, err := c.g.conn(rctx)
	out.Connect = connect
	if err != nil {
		return out, c.fail(ctx, rctx, err)
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
		c.g.retire(cc)
		return out, c.fail(ctx, rctx, fmt.Errorf("http2: round trip: %w", err))
	}
	n, err := drain(resp.Body, c.buf)
	resp.Body.Close()
	if err != nil {
		c.g.retire(cc)
		return out, c.fail(ctx, rctx, fmt.Errorf("http2: read body (%d bytes in): %w", n, err))
	}
	out.Code, out.Failed, out.Bytes = resp.StatusCode, resp.StatusCode >= 400, n
	return out, nil
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
