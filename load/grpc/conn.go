package grpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/smp-project/smp/internal/rawconn"
	"github.com/smp-project/smp/load"
)

// ErrNotGRPC is wrapped by the error of a call whose peer answered, but not
// as a gRPC server does: not HTTP/2 at all (an HTTP/1.1 server, TLS on a
// grpc:// URL, a TLS server that does not offer HTTP/2 on a grpcs:// URL),
// or HTTP/2 without a gRPC status.
var ErrNotGRPC = errors.New("the server does not speak gRPC")

// CallError is a call that ended without a status from the server. Code and
// Message are the status grpc-go reported for it; Err is the cause when it
// is known (a net, syscall or TLS error, context.DeadlineExceeded,
// ErrNotGRPC) and is what Unwrap returns.
type CallError struct {
	Addr, Method string
	Code         codes.Code
	Message      string
	Err          error
	// Timeout is the call deadline when the call ran out of it.
	Timeout time.Duration
	// Answer says, when Err wraps ErrNotGRPC, what answered instead of a
	// gRPC server.
	Answer string
}

func (e *CallError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "grpc: %s%s: ", e.Addr, e.Method)
	switch {
	case errors.Is(e.Err, ErrNotGRPC):
		answer := e.Answer
		if answer == "" {
			answer = "it answered, but not as a gRPC server does: " + e.Message
		}
		fmt.Fprintf(&b, "%v: %s", ErrNotGRPC, answer)
		return b.String()
	case e.Timeout > 0:
		fmt.Fprintf(&b, "no answer within the %v deadline", e.Timeout)
	default:
		fmt.Fprintf(&b, "%s", e.Code)
		if e.Message != "" {
			fmt.Fprintf(&b, ": %s", e.Message)
		}
	}
	if e.Err != nil && !strings.Contains(e.Message, e.Err.Error()) {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *CallError) Unwrap() error { return e.Err }

// GRPCStatus makes status.Code and status.FromError see the code.
func (e *CallError) GRPCStatus() *status.Status { return status.New(e.Code, e.Message) }

// channel is one grpc.ClientConn, shared by Streams Conns. It remembers the
// last network error of its connection, because grpc-go reports those only
// as text inside a status, and the first bytes the server sent on its
// latest connection, to say what answered when that was not HTTP/2.
type channel struct {
	idx      int
	addr     string
	cc       *grpc.ClientConn
	refs     int // guarded by Driver.mu
	netErr   atomic.Pointer[error]
	greeting atomic.Pointer[[]byte]

	// grpc-go makes the channel's connections itself; the dialer and the
	// credentials see each one, and time it. dialStart is when the
	// latest dial began (since epoch); connections counts those that
	// completed their handshake. The first is the channel's set-up, timed
	// by Open; the set-up time of each later one, a reconnect, is added
	// to reconnect until a Do takes it (see Conn.Do).
	dialStart   atomic.Int64
	connections atomic.Int64
	reconnect   atomic.Int64
}

// epoch is the origin of channel.dialStart: time.Since(epoch) reads the
// monotonic clock, so differences of it are durations.
var epoch = time.Now()

// handshakeDone records that a connection of the channel is set up: its
// dial and handshake are done.
func (ch *channel) handshakeDone() {
	took := max(int64(time.Since(epoch))-ch.dialStart.Load(), 1)
	if ch.connections.Add(1) > 1 {
		ch.reconnect.Add(took)
	}
}

// takeReconnect returns the set-up time of the reconnects no Do has
// reported yet, 0 if none, and clears it.
func (ch *channel) takeReconnect() time.Duration {
	if ch.reconnect.Load() == 0 {
		return 0
	}
	return time.Duration(ch.reconnect.Swap(0))
}

// maxGreeting bounds the bytes a channel keeps of what a server sent first.
const maxGreeting = 512

// dial is the channel's dialer: a plain TCP dial that records its failures.
func (ch *channel) dial(ctx context.Context, addr string) (net.Conn, error) {
	ch.dialStart.Store(int64(time.Since(epoch)))
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		err = fmt.Errorf("connect to %s: %w", addr, err)
		ch.netErr.Store(&err)
		return nil, err
	}
	ch.netErr.Store(nil)
	return &recordingConn{Conn: rawconn.Wrap(c), ch: ch}, nil
}

// lastErr is the last recorded network error, or nil.
func (ch *channel) lastErr() error {
	if p := ch.netErr.Load(); p != nil {
		return *p
	}
	return nil
}

// recordingConn records the read error that broke a connection, so that a
// call failed by it wraps it (io.EOF, ECONNRESET), and the result of its
// first read (see channel.greeting).
type recordingConn struct {
	net.Conn
	ch   *channel
	read bool // the first Read has returned
}

func (c *recordingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if !c.read {
		c.read = true
		g := bytes.Clone(b[:min(n, maxGreeting)])
		c.ch.greeting.Store(&g)
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		e := fmt.Errorf("read from %s: %w", c.ch.addr, err)
		c.ch.netErr.Store(&e)
	}
	return n, err
}

// recordingCreds records TLS handshake failures, so that they are wrapped
// (and classified as TLS errors) rather than lost in a status message.
type recordingCreds struct {
	credentials.TransportCredentials
	ch *channel
}

func (r recordingCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	c, info, err := r.TransportCredentials.ClientHandshake(ctx, authority, raw)
	if err != nil {
		e := fmt.Errorf("TLS handshake with %s: %w", r.ch.addr, err)
		r.ch.netErr.Store(&e)
		return c, info, err
	}
	// grpc-go hands every connection to the credentials, insecure ones
	// too, so this sees each connection set up.
	r.ch.handshakeDone()
	return c, info, err
}

func (r recordingCreds) Clone() credentials.TransportCredentials {
	return recordingCreds{r.TransportCredentials.Clone(), r.ch}
}

// callState tells whether the call in progress got its status from the
// server. The stats handler finds it through the call's context.
type callState struct {
	trailer atomic.Bool
}

type stateKey struct{}

// statsHandler marks a call as answered when its trailers (the status)
// arrive. grpc-go reports them only for a well-formed gRPC response, so a
// status grpc-go made up itself — a failed connection, a deadline, a
// non-gRPC peer — is never marked.
type statsHandler struct{}

func (statsHandler) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (statsHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (statsHandler) HandleConn(context.Context, stats.ConnStats) {}
func (statsHandler) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if _, ok := s.(*stats.InTrailer); !ok {
		return
	}
	if st, ok := ctx.Value(stateKey{}).(*callState); ok {
		st.trailer.Store(true)
	}
}

// waitReady connects the channel if it is not connected and waits, within
// the call timeout, until it is ready or has failed.
func (ch *channel) waitReady(ctx context.Context, d *Driver) error {
	wctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	for {
		s := ch.cc.GetState()
		switch s {
		case connectivity.Ready:
			return nil
		case connectivity.TransientFailure:
			return ch.failure(ctx, d)
		case connectivity.Shutdown:
			return fmt.Errorf("grpc: channel to %s is shut down", d.addr)
		case connectivity.Idle:
			ch.cc.Connect()
		}
		if !ch.cc.WaitForStateChange(wctx, s) {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("grpc: connect to %s: %w", d.addr, err)
			}
			return &CallError{Addr: d.addr, Code: codes.DeadlineExceeded, Message: "no connection within the deadline",
				Err: context.DeadlineExceeded, Timeout: d.timeout}
		}
	}
}

// probeMethod is what failure calls: a method no server has, so that a
// call that does reach a server has no effect there.
const probeMethod = "/smp.load.v1.ConnectionProbe/Probe"

// failure explains a channel in TRANSIENT_FAILURE. grpc-go keeps the reason
// to itself but puts it in the status of a call that fails fast, so make
// one. If the channel has recovered in the meantime and a server answers
// (UNIMPLEMENTED), that is no failure.
func (ch *channel) failure(ctx context.Context, d *Driver) error {
	var st callState
	var reply rawReply
	var empty rawMessage
	cctx, cancel := context.WithTimeout(context.WithValue(ctx, stateKey{}, &st), d.timeout)
	defer cancel()
	err := ch.cc.Invoke(cctx, probeMethod, &empty, &reply)
	if err == nil || st.trailer.Load() {
		return nil
	}
	return d.callError(ctx, pastDeadline(cctx), ch, err)
}

// check makes one call of the method to find out whether the server speaks
// gRPC at all. The call ends as soon as the response headers are in: a
// server-streaming method need not run its course. Its channel is channel
// 0, which the first Open then uses.
//
// Only a peer that answers, but not as a gRPC server does, is an error
// (wrapping ErrNotGRPC). Any gRPC status is an answer, UNIMPLEMENTED from
// a server without the health service too. A server that cannot be reached
// or does not answer in time is left to Open, where the engine tells an
// unreachable target from one that fails.
func (d *Driver) check(ctx context.Context) error {
	ch, err := d.newChannel(0)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.chans[0] = ch
	d.mu.Unlock()
	err = ch.waitReady(ctx, d)
	if err == nil {
		var st callState
		cctx := context.WithValue(ctx, stateKey{}, &st)
		if d.md != nil {
			cctx = metadata.NewOutgoingContext(cctx, d.md)
		}
		cctx, cancel := context.WithTimeout(cctx, d.timeout)
		err = d.firstAnswer(cctx, ch)
		if err != nil && !st.trailer.Load() {
			err = d.callError(ctx, pastDeadline(cctx), ch, err)
		} else {
			err = nil
		}
		cancel() // ends the call if it is still going
	}
	if errors.Is(err, ErrNotGRPC) {
		return err
	}
	return nil
}

// firstAnswer starts a call of the method and waits for the response
// headers, or for the end of a call that has none. It returns nil for
// gRPC response headers, else the call's error.
func (d *Driver) firstAnswer(ctx context.Context, ch *channel) error {
	cs, err := ch.cc.NewStream(ctx, &d.desc, d.method)
	if err != nil {
		return err
	}
	// io.EOF means the server has ended the call already; RecvMsg then
	// returns its status.
	if err := cs.SendMsg(&d.req); err != nil && err != io.EOF {
		return err
	}
	if err := cs.CloseSend(); err != nil {
		return err
	}
	// grpc-go hands over headers only when they are gRPC's; for a call
	// that ended without them, RecvMsg has the status.
	if md, _ := cs.Header(); md != nil {
		return nil
	}
	var reply rawReply
	if err := cs.RecvMsg(&reply); err != nil && err != io.EOF {
		return err
	}
	return nil
}

// Conn is one call at a time on a channel. It is used by one goroutine at a
// time, as load.Conn requires.
type Conn struct {
	d      *Driver
	ch     *channel
	st     callState
	reply  rawReply
	closed bool
}

var _ load.Conn = (*Conn)(nil)

func newConn(d *Driver, ch *channel) *Conn { return &Conn{d: d, ch: ch} }

// Do makes one call and reads its whole response.
//
// Unlike the HTTP/1.1 driver, Do allocates: grpc-go builds a stream, a
// context and frames for every call. What it avoids is marshalling: the
// request was encoded by New and responses are only counted.
//
// Retries are disabled (grpc.WithDisableRetry), so a call the server may
// have processed is never made again. grpc-go still makes a call again,
// once, when it provably never reached the server's application: no stream
// could be created on the connection, or the server refused the stream
// (REFUSED_STREAM, or a GOAWAY that left it unprocessed). Such a call is
// not counted by the server, so server and smp counts still agree.
//
// Reconnecting is grpc-go's business: when the connection breaks, the
// channel reconnects on its own (with its backoff), out of Do's sight, and
// a call made meanwhile waits or fails with UNAVAILABLE. Do cannot tell
// which call a reconnect was made for, so Outcome.Connect reports it, once,
// on the first Do of any Conn of the channel to end after the new
// connection was set up (dial and TLS handshake, HTTP/2 preface excluded):
// with one stream per channel that is the call that waited for it. Several
// reconnects before a Do ends are reported together, as their total set-up
// time. A reconnect attempt that fails is not reported: the calls made
// meanwhile fail with UNAVAILABLE instead, and the engine counts those.
func (c *Conn) Do(ctx context.Context) (load.Outcome, error) {
	if c.closed {
		return load.Outcome{}, errors.New("grpc: Do on a closed Conn")
	}
	c.st.trailer.Store(false)
	c.reply.bytes = 0
	cctx := context.WithValue(ctx, stateKey{}, &c.st)
	if c.d.md != nil {
		cctx = metadata.NewOutgoingContext(cctx, c.d.md)
	}
	cctx, cancel := context.WithTimeout(cctx, c.d.timeout)
	var err error
	if c.d.streaming {
		err = c.serverStream(cctx)
	} else {
		err = c.ch.cc.Invoke(cctx, c.d.method, &c.d.req, &c.reply)
	}
	timedOut := pastDeadline(cctx)
	cancel()
	out := load.Outcome{Connect: c.ch.takeReconnect()}
	if err == nil {
		out.Bytes = c.reply.bytes
		return out, nil
	}
	code := status.Code(err)
	// The server knows the call's deadline (grpc-timeout) and gives up
	// at the same instant: whichever side notices first, a call that ran
	// out of its deadline is a timeout, not an answer.
	if c.st.trailer.Load() && !(timedOut && (code == codes.DeadlineExceeded || code == codes.Canceled)) {
		out.Code, out.Failed, out.Bytes = int(code), code != codes.OK, c.reply.bytes
		return out, nil
	}
	return out, c.d.callError(ctx, timedOut, c.ch, err)
}

// pastDeadline reports whether ctx has expired, or will at once: its
// timer may fire a moment after the deadline that grpc-go has already
// acted on.
func pastDeadline(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// serverStream sends the request and reads every response message.
func (c *Conn) serverStream(ctx context.Context) error {
	cs, err := c.ch.cc.NewStream(ctx, &c.d.desc, c.d.method)
	if err != nil {
		return err
	}
	// io.EOF means the server has ended the call already; RecvMsg then
	// returns its status.
	if err := cs.SendMsg(&c.d.req); err != nil && err != io.EOF {
		return err
	}
	if err := cs.CloseSend(); err != nil {
		return err
	}
	for {
		if err := cs.RecvMsg(&c.reply); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// callError builds the error of a call that got no status from the server.
// ctx is the run's context; timedOut tells whether the call ran out of its
// deadline (the run's, or its own).
func (d *Driver) callError(ctx context.Context, timedOut bool, ch *channel, err error) error {
	st := status.Convert(err)
	ce := &CallError{Addr: d.addr, Method: d.method, Code: st.Code(), Message: st.Message()}
	switch {
	case pastDeadline(ctx):
		ce.Err = ctx.Err()
		if ce.Err == nil {
			ce.Err = context.DeadlineExceeded
		}
	case timedOut:
		ce.Err, ce.Timeout = context.DeadlineExceeded, d.timeout
	case notGRPC(st.Message(), d.tlsConfig != nil):
		ce.Err = ErrNotGRPC
		ce.Answer = d.describeAnswer(ch, st.Message())
	case st.Code() == codes.Unavailable:
		ce.Err = ch.lastErr()
		if answer := noHTTP2(ce.Err); answer != "" {
			// Still the TLS error too, for load.Classify.
			ce.Err = fmt.Errorf("%w: %w", ErrNotGRPC, ce.Err)
			ce.Answer = answer
		}
	}
	return ce
}

// describeAnswer says, for the message of a status that notGRPC
// recognises, what answered instead of a gRPC server. A preface error
// comes only from a plaintext connection, whose first bytes from the
// server ch has kept.
func (d *Driver) describeAnswer(ch *channel, msg string) string {
	msg = strings.ReplaceAll(msg, "transport: ", "")
	if !strings.Contains(msg, "error reading server preface") {
		// HTTP/2, but the headers are not gRPC's. grpc-go appends up to
		// a few KiB of the body on a line of its own.
		if head, body, ok := strings.Cut(msg, "\ndata: "); ok {
			if len(body) > 200 {
				body = body[:200] + "..."
			}
			msg = head + "; body " + body
		}
		return "an HTTP/2 server answered, but not with gRPC: " + msg
	}
	var g []byte
	if p := ch.greeting.Load(); p != nil {
		g = *p
	}
	return describeGreeting(g, msg)
}

// describeGreeting says what answered a plaintext HTTP/2 connection, from
// the first bytes it sent (g); msg is the error the client met.
func describeGreeting(g []byte, msg string) string {
	switch {
	case bytes.HasPrefix(g, []byte("HTTP/")):
		status, rest, _ := bytes.Cut(g, []byte("\r\n"))
		answer := fmt.Sprintf("an HTTP/1 server answered %q", status)
		if _, body, ok := bytes.Cut(rest, []byte("\r\n\r\n")); ok {
			if line, _, _ := bytes.Cut(body, []byte("\n")); len(bytes.TrimSpace(line)) > 0 {
				answer += fmt.Sprintf(" (%q)", bytes.TrimSpace(line))
			}
		}
		return answer + " to an HTTP/2 connection: gRPC needs HTTP/2 (with TLS, use grpcs://)"
	case len(g) >= 2 && (g[0] == 0x15 || g[0] == 0x16) && g[1] == 0x03:
		return "a TLS server answered the plaintext connection: use grpcs://"
	case len(g) == 0:
		return "it closed the connection without answering the HTTP/2 preface, as a TLS server does on a plaintext connection (with TLS, use grpcs://): " + msg
	}
	return fmt.Sprintf("it answered %q, which is not HTTP/2: %s", g[:min(len(g), 64)], msg)
}

// noHTTP2 says what answered when err is a TLS handshake that failed
// because the server offers no HTTP/2: it refused ALPN "h2" with a
// no_application_protocol alert, or chose no protocol at all, which
// grpc-go refuses. It returns "" for any other error.
func noHTTP2(err error) string {
	if err == nil {
		return ""
	}
	const what = `a TLS server that does not offer HTTP/2 answered (an HTTPS server for HTTP/1.1 only?): `
	switch msg := err.Error(); {
	case strings.Contains(msg, "tls: no application protocol"):
		return what + `it refused ALPN protocol "h2", which gRPC needs (` + msg + ")"
	case strings.Contains(msg, "missing selected ALPN property"), strings.Contains(msg, "did not negotiate HTTP/2 through ALPN"):
		return what + `it chose no ALPN protocol, where gRPC needs "h2"`
	}
	return ""
}

// notGRPC recognises the messages grpc-go gives when the peer answers
// something other than gRPC: an HTTP/2 response without gRPC's content
// type, or, on a plaintext connection, bytes that are not an HTTP/2 server
// preface (an HTTP/1.1 server, a TLS server). Over TLS, the server has
// agreed to HTTP/2 already (ALPN "h2"); a missing preface there is a TLS
// failure (an alert such as "certificate required") or a broken
// connection, not another protocol.
func notGRPC(msg string, tls bool) bool {
	if strings.Contains(msg, "error reading server preface") {
		return !tls
	}
	for _, s := range []string{
		"unexpected HTTP status code received from server",
		"received unexpected content-type",
		"malformed header: missing HTTP content-type",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// Close releases the Conn's share of its channel. It is safe to call more
// than once.
func (c *Conn) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	c.d.release(c.ch)
	return nil
}
