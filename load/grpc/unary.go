package grpc

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/load/internal/h2"
)

// unaryRequest encodes a unary call once: its HTTP/2 header block (method
// path, authority, metadata, grpc-timeout) and its one length-prefixed,
// uncompressed message.
func unaryRequest(method, authority string, tls bool, userAgent string, md metadata.MD, timeout time.Duration, msg []byte) h2.Request {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	ua := "smp"
	if userAgent != "" {
		ua = userAgent + " smp"
	}
	fields := []hpack.HeaderField{
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: scheme},
		{Name: ":path", Value: method},
		{Name: ":authority", Value: authority},
		{Name: "content-type", Value: "application/grpc"},
		{Name: "user-agent", Value: ua},
		{Name: "te", Value: "trailers"},
		{Name: "grpc-timeout", Value: grpcTimeout(timeout)},
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range md {
			if !yield(k) {
				return
			}
		}
	}) {
		for _, v := range md[k] {
			if strings.HasSuffix(k, "-bin") {
				v = base64.RawStdEncoding.EncodeToString([]byte(v))
			}
			fields = append(fields, hpack.HeaderField{Name: k, Value: v, Sensitive: k == "authorization" || k == "cookie"})
		}
	}
	body := make([]byte, 5+len(msg))
	binary.BigEndian.PutUint32(body[1:], uint32(len(msg))) // byte 0: not compressed
	copy(body[5:], msg)
	return h2.Request{Block: h2.EncodeBlock(fields), Body: body}
}

// grpcTimeout writes a deadline as gRPC's grpc-timeout header does: at
// most 8 digits and a unit, rounded up so that the server never gives up
// before the client.
func grpcTimeout(d time.Duration) string {
	for _, u := range []struct {
		unit string
		d    time.Duration
	}{{"n", time.Nanosecond}, {"u", time.Microsecond}, {"m", time.Millisecond}, {"S", time.Second}, {"M", time.Minute}} {
		if n := (d + u.d - 1) / u.d; n < 1e8 {
			return strconv.FormatInt(int64(n), 10) + u.unit
		}
	}
	return strconv.FormatInt(int64((d+time.Hour-1)/time.Hour), 10) + "H"
}

// unaryConn is a Conn whose unary calls go over this module's lean HTTP/2
// client (load/internal/h2) rather than grpc-go: the call is encoded once
// and in the steady state Do allocates nothing.
type unaryConn struct {
	d  *Driver
	st *h2.Stream
}

var _ load.Conn = (*unaryConn)(nil)

// Do makes one call and reads its response.
//
// A call is sent once, never retried; one that never left the client
// because its connection was closing (GOAWAY) goes on a new connection.
// Outcome.Connect is the time a dial took when this call made one.
//
// A call answered with a gRPC status (in trailers, or a trailers-only
// response) is an outcome, except DEADLINE_EXCEEDED or CANCELLED at or
// past the call's own deadline, which is a timeout like one the client
// notices first (the server knows the deadline from grpc-timeout). Any
// other end is a *CallError.
func (c *unaryConn) Do(ctx context.Context) (load.Outcome, error) {
	start := time.Now()
	res, connect, err := c.st.Do(ctx, &c.d.unary)
	out := load.Outcome{Connect: connect}
	if err != nil {
		if ctx.Err() == nil && time.Since(start) >= c.d.timeout {
			// The server gives up at the deadline too (it knows it from
			// grpc-timeout), and its RST_STREAM may overtake the
			// client's own timeout: either way the call timed out.
			return out, &CallError{Addr: c.d.addr, Method: c.d.method, Code: codes.DeadlineExceeded,
				Message: err.Error(), Err: context.DeadlineExceeded, Timeout: c.d.timeout}
		}
		return out, c.d.unaryError(ctx, err)
	}
	if res.GRPCStatus < 0 || !isGRPCContentType(res.ContentType) {
		return out, c.d.notGRPCAnswer(res)
	}
	code := codes.Code(res.GRPCStatus)
	if (code == codes.DeadlineExceeded || code == codes.Canceled) && time.Since(start) >= c.d.timeout {
		return out, &CallError{Addr: c.d.addr, Method: c.d.method, Code: codes.DeadlineExceeded,
			Message: "deadline exceeded", Err: context.DeadlineExceeded, Timeout: c.d.timeout}
	}
	out.Code, out.Failed, out.Bytes = int(code), code != codes.OK, res.MessageBytes
	return out, nil
}

// Close takes the Conn out of its connection's group. It is safe to call
// more than once.
func (c *unaryConn) Close() error {
	c.st.Close()
	return nil
}

func isGRPCContentType(ct string) bool {
	return ct == "application/grpc" || strings.HasPrefix(ct, "application/grpc+") || strings.HasPrefix(ct, "application/grpc;")
}

// checkUnary is check for unary methods, over the HTTP/2 client: one call
// of the method, on the stream the first Open then returns, so that its
// connection is the run's first.
func (d *Driver) checkUnary(ctx context.Context) error {
	st, err := d.pool.Open(ctx)
	if err != nil {
		if err := d.unaryError(ctx, err); errors.Is(err, ErrNotGRPC) {
			return err
		}
		return nil // unreachable, or no answer: left to Open
	}
	d.mu.Lock()
	d.first = st
	d.mu.Unlock()
	if _, err := (&unaryConn{d: d, st: st}).Do(ctx); errors.Is(err, ErrNotGRPC) {
		return err
	}
	return nil
}

// notGRPCAnswer is the error of a complete HTTP/2 response that is not a
// gRPC one: no grpc-status, or not gRPC's content type. Its code is the
// one gRPC's HTTP mapping gives the HTTP status.
func (d *Driver) notGRPCAnswer(res h2.Response) error {
	code := codes.Unknown
	switch res.Status {
	case 400:
		code = codes.Internal
	case 401:
		code = codes.Unauthenticated
	case 403:
		code = codes.PermissionDenied
	case 404:
		code = codes.Unimplemented
	case 429, 502, 503, 504:
		code = codes.Unavailable
	case 200:
		if res.GRPCStatus < 0 && isGRPCContentType(res.ContentType) {
			code = codes.Internal // a gRPC response whose trailers never came
		}
	}
	if code == codes.Internal && res.Status == 200 {
		return &CallError{Addr: d.addr, Method: d.method, Code: code, Message: "the server ended the call without a grpc-status"}
	}
	answer := fmt.Sprintf("an HTTP/2 server answered, but not with gRPC: HTTP status %d (%s), content-type %q", res.Status, http.StatusText(res.Status), res.ContentType)
	if len(res.BodyStart) > 0 {
		body := string(res.BodyStart[:min(len(res.BodyStart), 200)])
		if len(res.BodyStart) > 200 {
			body += "..."
		}
		answer += fmt.Sprintf("; body %q", body)
	}
	return &CallError{Addr: d.addr, Method: d.method, Code: code, Message: answer, Err: ErrNotGRPC, Answer: answer}
}

// unaryError turns a failure of the HTTP/2 client into a *CallError with
// the code grpc-go would report for it.
func (d *Driver) unaryError(ctx context.Context, err error) error {
	ce := &CallError{Addr: d.addr, Method: d.method, Code: codes.Unavailable, Message: err.Error(), Err: err}
	var se *h2.StreamError
	var ge *h2.GoAwayError
	var ne *h2.NotHTTP2Error
	switch {
	case ctx.Err() != nil:
		ce.Code, ce.Err = codes.Canceled, ctx.Err()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			ce.Code = codes.DeadlineExceeded
		}
	case errors.Is(err, context.DeadlineExceeded):
		ce.Code, ce.Err, ce.Timeout = codes.DeadlineExceeded, context.DeadlineExceeded, d.timeout
	case errors.As(err, &ne):
		ce.Err = fmt.Errorf("%w: %w", ErrNotGRPC, err)
		msg := "no HTTP/2 server preface"
		if ne.Err != nil {
			msg = ne.Err.Error()
		}
		ce.Answer = describeGreeting(ne.Greeting, msg)
	case errors.As(err, &se):
		switch {
		case se.Reason != "":
			ce.Code = codes.Internal
			if strings.Contains(se.Reason, "message of") {
				ce.Code = codes.ResourceExhausted
			}
		case se.Code == 0x7: // REFUSED_STREAM: not processed
			ce.Code = codes.Unavailable
		case se.Code == 0x8: // CANCEL
			ce.Code = codes.Canceled
		default:
			ce.Code = codes.Internal
		}
	case errors.As(err, &ge):
		ce.Code = codes.Unavailable
	default:
		if answer := noHTTP2(err); answer != "" {
			ce.Err = fmt.Errorf("%w: %w", ErrNotGRPC, err)
			ce.Answer = answer
		}
	}
	return ce
}
