package http2

import (
	"context"
	"fmt"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/load/internal/h2"
)

// Conn is one stream's worth of a shared HTTP/2 connection: it has at most
// one request in flight. It is used by one goroutine at a time, as load.Conn
// requires.
type Conn struct {
	d  *Driver
	st *h2.Stream
}

var _ load.Conn = (*Conn)(nil)

// Do sends the request and reads the whole response, discarding the body.
//
// A request is sent once. When the connection is known to be unusable
// before the request goes out (closed, or going away after a GOAWAY), Do
// dials a new one first and sends the request there; that is not a second
// sending. Any failure once the request is on the connection — the
// connection breaking, a stream reset, REFUSED_STREAM, a GOAWAY that left
// the stream unprocessed — is returned, and the next Do dials a new
// connection if this one can take no more requests.
//
// When this Do dials, Outcome.Connect is the time the dial, TLS handshake
// and HTTP/2 preface took, on success and on failure alike. Conns of the
// same group that waited for that dial report 0 (their latency includes
// the wait).
func (c *Conn) Do(ctx context.Context) (load.Outcome, error) {
	res, connect, err := c.st.Do(ctx, &c.d.req)
	out := load.Outcome{Connect: connect}
	if err != nil {
		return out, fmt.Errorf("http2: %w", err)
	}
	out.Code, out.Failed, out.Bytes = res.Status, res.Status >= 400, res.Bytes
	return out, nil
}

// Close takes the Conn out of its group; the connection is closed with the
// group's last Conn. It is safe to call more than once.
func (c *Conn) Close() error {
	c.st.Close()
	return nil
}
