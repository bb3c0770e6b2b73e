package h2

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smp-project/smp/internal/rawconn"
)

const (
	clientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	// streamWindow and connWindow are the receive windows this client
	// advertises. Responses are discarded as they arrive, so large windows
	// cost no memory; they only spare WINDOW_UPDATE frames (one per half
	// window consumed).
	streamWindow = 4 << 20
	connWindow   = 1 << 30
	// maxHeaderBlock bounds one response's header block (HEADERS and its
	// CONTINUATIONs), as net/http bounds HTTP/1.1 headers, so that a server
	// streaming headers cannot grow a connection's buffer without end.
	maxHeaderBlock = 1 << 20
	// maxStreamID is the last client stream identifier: a connection that
	// reaches it takes no new stream.
	maxStreamID = 1<<31 - 1
	// maxSendFrame caps the DATA frames this client sends even when the
	// peer allows larger ones: bigger frames buy nothing on the write path.
	maxSendFrame = 64 << 10
	// maxBodyStart is how much of a response that should have been gRPC's
	// is kept, for the error to show.
	maxBodyStart = 256
)

// Errors a request can end with, besides network errors and ConnError.
var (
	// ErrClosed is the error of requests on a connection this client closed.
	ErrClosed = errors.New("HTTP/2 connection closed by the client")
	// errGoingAway says that a connection takes no new stream: the server
	// sent GOAWAY, or the stream identifiers ran out. A request that gets
	// it was never sent.
	errGoingAway = errors.New("HTTP/2 connection is going away")
)

// StreamError is a stream the peer reset (RST_STREAM), or that this client
// reset because the peer broke the protocol on it.
type StreamError struct {
	ID     uint32
	Code   ErrCode
	Reason string // set when this client reset the stream
}

func (e *StreamError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("%v on stream %d: %s (reset with %v)", ErrProtocol, e.ID, e.Reason, e.Code)
	}
	return fmt.Sprintf("stream %d reset by the server with %v", e.ID, e.Code)
}

// Unwrap makes a protocol violation of the peer match ErrProtocol.
func (e *StreamError) Unwrap() error {
	if e.Reason != "" {
		return ErrProtocol
	}
	return nil
}

// GoAwayError is a stream the server did not process before it sent
// GOAWAY: its identifier is above the GOAWAY's last stream.
type GoAwayError struct {
	Code   ErrCode
	LastID uint32
	Debug  string
}

func (e *GoAwayError) Error() string {
	s := fmt.Sprintf("stream not processed: the server sent GOAWAY (%v, last stream %d)", e.Code, e.LastID)
	if e.Debug != "" {
		s += fmt.Sprintf(": %q", e.Debug)
	}
	return s
}

// header is what a response's header block says, as far as this client
// cares. Its strings are the last content-type and grpc-message seen
// (conn.field): a value that repeats makes no new string.
type header struct {
	status        int // -1 when absent
	contentType   string
	contentLength int64 // -1 when absent
	grpcStatus    int   // -1 when absent
	grpcMessage   string
	bad           string // why the block is malformed, "" when it is not
}

// conn is one HTTP/2 connection, shared by the streams of a group. A
// goroutine reads its frames (readLoop) and another enforces timeouts
// (watch); requests write their frames themselves (see flushLocked).
type conn struct {
	cfg *Config
	nc  net.Conn

	mu sync.Mutex
	// write side: frames are appended to wbuf; one goroutine at a time
	// writes it out while others append (flushing), so that requests made
	// while a write is in progress go out together in the next one.
	wbuf, wspare []byte
	flushing     bool
	flushes      uint64 // writes started, for the watchdog's stall check
	// stream state
	streams        []*stream // open streams: few (a group's members), so a slice beats a map
	waiters        []*stream // requests waiting for a stream slot
	nextID         uint32
	maxStreams     uint32 // the peer's SETTINGS_MAX_CONCURRENT_STREAMS
	peerInitWindow int64  // the peer's SETTINGS_INITIAL_WINDOW_SIZE
	peerMaxFrame   int
	sendWindow     int64 // connection-level send window
	recvAvail      int64 // connection-level receive window left
	recvUnacked    int64 // received bytes not yet returned with WINDOW_UPDATE
	goingAway      bool
	err            error // why the connection is dead; nil while it lives
	pingOut        bool  // a PING of the watchdog awaits its acknowledgement
	pingSent       time.Time

	// unusable is set (under mu) when the connection takes no new stream,
	// so that a group can tell without taking mu.
	unusable atomic.Bool

	// Owned by readLoop.
	fr      *frameReader
	dec     *decoder
	fieldFn func(name, value []byte) // c.field, bound once
	// The last content-type and grpc-message seen, so that a value that
	// repeats becomes the same string instead of a new one.
	lastContentType, lastGRPCMessage string
	hdr                              header
	block                            []byte // header block being assembled from CONTINUATIONs
	blockID                          uint32 // its stream, 0 when none
	blockEnd                         bool   // its HEADERS frame had END_STREAM

	done chan struct{} // closed when readLoop returns
}

// dial connects to cfg.Addr, does the TLS handshake when cfg.TLS is set,
// exchanges prefaces and SETTINGS, and starts the connection's goroutines.
// The server's first SETTINGS frame is waited for, so that the stream
// limit it sets holds from the first request.
func dial(ctx context.Context, cfg *Config) (*conn, error) {
	var dialer net.Dialer
	nc, err := dialer.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	nc = rawconn.Wrap(nc)
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(cfg.Timeout)
	}
	if err := nc.SetDeadline(deadline); err != nil {
		nc.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	if cfg.TLS != nil {
		tc := tls.Client(nc, cfg.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", cfg.Addr, err)
		}
		if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
			tc.Close()
			return nil, fmt.Errorf("%s did not negotiate HTTP/2 through ALPN (got %q)", cfg.Addr, p)
		}
		nc = tc
	}
	c := newConn(cfg, nc)
	b := append(c.wbuf, clientPreface...)
	b = appendFrameHeader(b, 3*6, frameSettings, 0, 0)
	b = appendSetting(b, settingEnablePush, 0)
	b = appendSetting(b, settingInitialWindowSize, streamWindow)
	b = appendSetting(b, settingMaxHeaderListSize, maxHeaderBlock)
	b = appendWindowUpdate(b, 0, connWindow-65535)
	if _, err := nc.Write(b); err != nil {
		nc.Close()
		return nil, fmt.Errorf("send HTTP/2 preface to %s: %w", cfg.Addr, err)
	}
	if err := c.readServerPreface(); err != nil {
		nc.Close()
		return nil, err
	}
	// Acknowledge the server's SETTINGS now: a connection may sit idle
	// before its first request, and a server may time the ack out.
	if _, err := nc.Write(c.wbuf); err != nil {
		nc.Close()
		return nil, fmt.Errorf("send HTTP/2 preface to %s: %w", cfg.Addr, err)
	}
	c.wbuf = c.wbuf[:0]
	if err := nc.SetDeadline(time.Time{}); err != nil {
		nc.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	go c.readLoop()
	go c.watch()
	return c, nil
}

// newConn returns the state of a connection on nc, before any exchange.
func newConn(cfg *Config, nc net.Conn) *conn {
	c := &conn{
		cfg:            cfg,
		nc:             nc,
		wbuf:           make([]byte, 0, 16<<10),
		wspare:         make([]byte, 0, 16<<10),
		nextID:         1,
		maxStreams:     ^uint32(0),
		peerInitWindow: 65535,
		peerMaxFrame:   defaultMaxFrameSize,
		sendWindow:     65535,
		recvAvail:      connWindow,
		fr:             newFrameReader(nc),
		done:           make(chan struct{}),
	}
	c.dec = newDecoder(4096, maxHeaderBlock)
	c.fieldFn = c.field
	return c
}

// readServerPreface reads the server's first frame, which must be SETTINGS,
// and applies it. Anything else makes a *NotHTTP2Error that keeps the
// first bytes the server sent, to say what answered instead.
func (c *conn) readServerPreface() error {
	err := c.fr.fill(frameHeaderLen)
	got := c.fr.buf[c.fr.start:c.fr.end]
	notHTTP2 := func(err error) error {
		return &NotHTTP2Error{Addr: c.cfg.Addr, Greeting: bytes.Clone(got[:min(len(got), 512)]), Err: err}
	}
	switch {
	case bytes.HasPrefix(got, []byte("HTTP/")), len(got) >= 2 && (got[0] == 0x15 || got[0] == 0x16) && got[1] == 0x03:
		return notHTTP2(nil) // HTTP/1, or TLS on a plaintext connection
	case err == io.EOF && c.cfg.TLS == nil:
		// A TLS server hangs up on a plaintext preface without a word.
		return notHTTP2(err)
	case err == io.ErrUnexpectedEOF:
		return notHTTP2(err)
	case err != nil:
		return fmt.Errorf("read HTTP/2 preface from %s: %w", c.cfg.Addr, err)
	}
	h, p, err := c.fr.next()
	if err == nil && (h.typ != frameSettings || h.flags&flagAck != 0) {
		err = connError(codeProtocol, "a frame of type %d first, not SETTINGS", h.typ)
	}
	if err == nil {
		c.mu.Lock()
		err = c.settingsLocked(p)
		c.mu.Unlock()
	}
	var ce *ConnError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return notHTTP2(err)
	}
	return fmt.Errorf("read HTTP/2 preface from %s: %w", c.cfg.Addr, err)
}

// ErrNotHTTP2 is matched by the error of a connection whose server does not
// answer as an HTTP/2 server does (a *NotHTTP2Error).
var ErrNotHTTP2 = errors.New("the server does not speak HTTP/2")

// NotHTTP2Error is a server that answered the HTTP/2 preface with something
// else. Greeting is the start of what it sent (empty if it hung up at
// once), Err the framing error or EOF, if any.
type NotHTTP2Error struct {
	Addr     string
	Greeting []byte
	Err      error
}

func (e *NotHTTP2Error) Error() string {
	g := e.Greeting
	var what string
	switch {
	case bytes.HasPrefix(g, []byte("HTTP/")):
		line, _, _ := bytes.Cut(g, []byte("\n"))
		what = fmt.Sprintf("answered in HTTP/1 (%q), not HTTP/2 with prior knowledge", bytes.TrimSpace(line))
	case len(g) >= 2 && (g[0] == 0x15 || g[0] == 0x16) && g[1] == 0x03:
		what = "answered with a TLS record (a TLS server on a plaintext connection?)"
	case len(g) == 0:
		what = "closed the connection without answering the HTTP/2 preface"
	default:
		what = fmt.Sprintf("answered %q, which is not HTTP/2", g[:min(len(g), 64)])
	}
	if e.Err != nil && len(g) > 0 {
		what += fmt.Sprintf(" (%v)", e.Err)
	}
	return fmt.Sprintf("%v: %s %s", ErrNotHTTP2, e.Addr, what)
}

// Is makes errors.Is(err, ErrNotHTTP2) hold.
func (e *NotHTTP2Error) Is(target error) bool { return target == ErrNotHTTP2 }

func (e *NotHTTP2Error) Unwrap() error { return e.Err }

// wantField tells the decoder which fields the client reads.
func wantField(name []byte) bool {
	switch string(name) {
	case ":status", "content-type", "content-length", "grpc-status", "grpc-message":
		return true
	}
	return false
}

// field receives the fields wantField accepts. Comparing and parsing
// allocates nothing; a string is made only for a content-type or
// grpc-message that differs from the last one.
func (c *conn) field(name, value []byte) {
	h := &c.hdr
	switch string(name) {
	case ":status":
		n, ok := atoi(value)
		if !ok || len(value) != 3 || h.status >= 0 {
			h.bad = "bad or repeated :status"
		}
		h.status = n
	case "content-type":
		h.contentType = intern(&c.lastContentType, value)
	case "content-length":
		n, ok := atoi(value)
		if !ok {
			h.bad = "bad content-length"
		}
		h.contentLength = int64(n)
	case "grpc-status":
		n, ok := atoi(value)
		if !ok {
			h.bad = "bad grpc-status"
		}
		h.grpcStatus = n
	case "grpc-message":
		h.grpcMessage = intern(&c.lastGRPCMessage, value)
	}
}

// intern returns b as a string, *last when it is equal to it.
func intern(last *string, b []byte) string {
	if string(b) != *last {
		*last = string(b)
	}
	return *last
}

// atoi parses a non-negative decimal of at most 18 digits.
func atoi[T string | []byte](s T) (int, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return 0, false
		}
		n = n*10 + int(d)
	}
	return n, true
}

// readLoop reads and handles frames until the connection fails or closes.
// It writes what it has to say (acknowledgements, WINDOW_UPDATEs) once
// there is nothing more to read, so that a burst of responses costs one
// write.
func (c *conn) readLoop() {
	defer close(c.done)
	for {
		h, p, err := c.fr.next()
		if err == nil {
			err = c.handle(h, p)
		}
		if err != nil {
			c.mu.Lock()
			var ce *ConnError
			if errors.As(err, &ce) && c.err == nil && !c.flushing {
				// Tell the server why, best effort, before closing.
				c.wbuf = appendGoAway(c.wbuf, 0, ce.Code)
				c.flushLocked()
			}
			c.failLocked(err)
			c.mu.Unlock()
			c.nc.Close()
			return
		}
		if c.fr.start == c.fr.end {
			c.mu.Lock()
			c.flushLocked()
			c.mu.Unlock()
		}
	}
}

// handle processes one frame.
func (c *conn) handle(h frameHeader, p []byte) error {
	if c.blockID != 0 && (h.typ != frameContinuation || h.streamID != c.blockID) {
		return connError(codeProtocol, "frame of type %d on stream %d inside the header block of stream %d", h.typ, h.streamID, c.blockID)
	}
	switch h.typ {
	case frameData:
		return c.data(h, p)
	case frameHeaders:
		if h.streamID%2 == 0 {
			return connError(codeProtocol, "HEADERS on server-initiated stream %d", h.streamID)
		}
		c.block = append(c.block[:0], p...)
		c.blockID, c.blockEnd = h.streamID, h.flags&flagEndStream != 0
		if h.flags&flagEndHeaders != 0 {
			return c.headerBlock()
		}
	case frameContinuation:
		if c.blockID == 0 {
			return connError(codeProtocol, "CONTINUATION without HEADERS on stream %d", h.streamID)
		}
		if len(c.block)+len(p) > maxHeaderBlock {
			return connError(codeProtocol, "header block of stream %d over %d bytes", h.streamID, maxHeaderBlock)
		}
		c.block = append(c.block, p...)
		if h.flags&flagEndHeaders != 0 {
			return c.headerBlock()
		}
	case frameRSTStream:
		code := ErrCode(binary.BigEndian.Uint32(p))
		c.mu.Lock()
		defer c.mu.Unlock()
		s := c.find(h.streamID)
		if s == nil {
			return c.checkKnownLocked(h)
		}
		c.finishLocked(s, &StreamError{ID: h.streamID, Code: code}, false)
	case frameSettings:
		c.mu.Lock()
		defer c.mu.Unlock()
		if h.flags&flagAck != 0 {
			return nil
		}
		return c.settingsLocked(p)
	case framePing:
		c.mu.Lock()
		defer c.mu.Unlock()
		if h.flags&flagAck != 0 {
			c.pingOut = false
		} else {
			c.wbuf = appendPing(c.wbuf, true, p)
		}
	case frameGoAway:
		c.goAway(p)
	case frameWindowUpdate:
		return c.windowUpdate(h, p)
	}
	// PRIORITY and unknown frame types are ignored, as RFC 9113 says.
	return nil
}

// find returns the open stream with identifier id, nil if none. mu is held.
func (c *conn) find(id uint32) *stream {
	for _, s := range c.streams {
		if s.id == id {
			return s
		}
	}
	return nil
}

// checkKnownLocked is for a frame on a stream that is not open: a stream
// this client opened and closed (a late frame after a reset or timeout) is
// fine, one it never opened is a protocol error.
func (c *conn) checkKnownLocked(h frameHeader) error {
	if h.streamID >= c.nextID || h.streamID%2 == 0 {
		return connError(codeProtocol, "frame of type %d on stream %d, which this client never opened", h.typ, h.streamID)
	}
	return nil
}

// data handles a DATA frame: flow control first, whatever the stream's
// state, since the connection window counts every DATA frame.
func (c *conn) data(h frameHeader, p []byte) error {
	n := int64(h.length)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recvAvail -= n
	if c.recvAvail < 0 {
		return connError(codeFlowControl, "DATA beyond the connection's flow-control window")
	}
	c.recvUnacked += n
	if c.recvUnacked >= connWindow/2 {
		c.wbuf = appendWindowUpdate(c.wbuf, 0, uint32(c.recvUnacked))
		c.recvAvail += c.recvUnacked
		c.recvUnacked = 0
	}
	s := c.find(h.streamID)
	if s == nil {
		return c.checkKnownLocked(h)
	}
	if !s.final {
		c.resetLocked(s, codeProtocol, "DATA before the response headers")
		return nil
	}
	s.recvAvail -= n
	if s.recvAvail < 0 {
		c.resetLocked(s, codeFlowControl, "DATA beyond the stream's flow-control window")
		return nil
	}
	s.res.Bytes += int64(len(p))
	switch {
	case s.grpc:
		if reason := s.messages(p, c.cfg.MaxMessage); reason != "" {
			c.resetLocked(s, codeCancel, reason)
			return nil
		}
	case c.cfg.GRPC && len(s.bodyStart) < maxBodyStart:
		if s.bodyStart == nil {
			s.bodyStart = make([]byte, 0, maxBodyStart)
		}
		s.bodyStart = append(s.bodyStart, p[:min(len(p), maxBodyStart-len(s.bodyStart))]...)
		s.res.BodyStart = s.bodyStart
	}
	if h.flags&flagEndStream != 0 {
		c.endLocked(s)
		return nil
	}
	s.recvUnacked += n
	if s.recvUnacked >= streamWindow/2 {
		c.wbuf = appendWindowUpdate(c.wbuf, s.id, uint32(s.recvUnacked))
		s.recvAvail += s.recvUnacked
		s.recvUnacked = 0
	}
	return nil
}

// headerBlock decodes a complete header block and applies it to its
// stream. Blocks of streams no longer open are decoded too: the HPACK
// table must see every block.
func (c *conn) headerBlock() error {
	id, end := c.blockID, c.blockEnd
	c.blockID = 0
	c.hdr = header{status: -1, contentLength: -1, grpcStatus: -1}
	if err := c.dec.decode(c.block, wantField, c.fieldFn); err != nil {
		return connError(codeCompression, "stream %d: %v", id, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.find(id)
	if s == nil {
		return c.checkKnownLocked(frameHeader{typ: frameHeaders, streamID: id})
	}
	hd := &c.hdr
	if hd.bad != "" {
		c.resetLocked(s, codeProtocol, hd.bad)
		return nil
	}
	if s.final {
		// Trailers end the stream; only gRPC's matter here.
		if !end {
			c.resetLocked(s, codeProtocol, "trailers without END_STREAM")
			return nil
		}
		if hd.status >= 0 {
			c.resetLocked(s, codeProtocol, ":status in trailers")
			return nil
		}
		s.res.GRPCStatus, s.res.GRPCMessage = hd.grpcStatus, hd.grpcMessage
		c.endLocked(s)
		return nil
	}
	switch {
	case hd.status < 0:
		c.resetLocked(s, codeProtocol, "response headers without :status")
		return nil
	case hd.status == 101:
		c.resetLocked(s, codeProtocol, "101 Switching Protocols is not allowed in HTTP/2")
		return nil
	case hd.status < 200:
		if end {
			c.resetLocked(s, codeProtocol, "interim (1xx) response that ends the stream")
		}
		return nil // interim: the final response follows
	}
	s.final = true
	// Only a gRPC response's body is read as messages: another answer's
	// is counted, for the error to describe.
	s.grpc = c.cfg.GRPC && strings.HasPrefix(hd.contentType, "application/grpc")
	s.res.Status, s.res.ContentType, s.res.ContentLength = hd.status, hd.contentType, hd.contentLength
	s.res.GRPCStatus, s.res.GRPCMessage = hd.grpcStatus, hd.grpcMessage
	if end {
		c.endLocked(s)
	}
	return nil
}

// settingsLocked applies a SETTINGS frame and queues its acknowledgement.
func (c *conn) settingsLocked(p []byte) error {
	for ; len(p) > 0; p = p[6:] {
		id, v := binary.BigEndian.Uint16(p), binary.BigEndian.Uint32(p[2:])
		switch id {
		case settingEnablePush:
			if v != 0 {
				return connError(codeProtocol, "SETTINGS_ENABLE_PUSH %d from a server", v)
			}
		case settingMaxConcurrentStreams:
			more := v > c.maxStreams
			c.maxStreams = v
			if more {
				c.wakeWaitersLocked()
			}
		case settingInitialWindowSize:
			if v > maxWindow {
				return connError(codeFlowControl, "SETTINGS_INITIAL_WINDOW_SIZE %d over 2^31-1", v)
			}
			delta := int64(v) - c.peerInitWindow
			c.peerInitWindow = int64(v)
			for _, s := range c.streams {
				s.sendWindow += delta
				if s.sendWindow > maxWindow {
					return connError(codeFlowControl, "SETTINGS_INITIAL_WINDOW_SIZE overflows the window of stream %d", s.id)
				}
			}
			if delta > 0 {
				c.wakeSendersLocked()
			}
		case settingMaxFrameSize:
			if v < defaultMaxFrameSize || v > 1<<24-1 {
				return connError(codeProtocol, "SETTINGS_MAX_FRAME_SIZE %d out of range", v)
			}
			c.peerMaxFrame = min(int(v), maxSendFrame)
		}
		// HEADER_TABLE_SIZE bounds the table of the server's decoder,
		// which this client's requests never add to; the others are
		// advisory or unknown.
	}
	c.wbuf = appendFrameHeader(c.wbuf, 0, frameSettings, flagAck, 0)
	return nil
}

// goAway fails the streams the server says it did not process, and stops
// new streams on the connection; the others run to their end.
func (c *conn) goAway(p []byte) {
	last := binary.BigEndian.Uint32(p) & maxStreamID
	code := ErrCode(binary.BigEndian.Uint32(p[4:]))
	c.mu.Lock()
	defer c.mu.Unlock()
	c.goingAway = true
	c.unusable.Store(true)
	var gerr *GoAwayError
	for i := len(c.streams) - 1; i >= 0; i-- {
		if s := c.streams[i]; s.id > last {
			if gerr == nil {
				gerr = &GoAwayError{Code: code, LastID: last, Debug: string(p[8:min(len(p), 8+256)])}
			}
			c.finishLocked(s, gerr, false)
		}
	}
	c.wakeWaitersLocked()
	c.closeIfIdleLocked()
}

// windowUpdate adds to a send window.
func (c *conn) windowUpdate(h frameHeader, p []byte) error {
	incr := int64(binary.BigEndian.Uint32(p) & maxWindow)
	c.mu.Lock()
	defer c.mu.Unlock()
	if h.streamID == 0 {
		if incr == 0 {
			return connError(codeProtocol, "WINDOW_UPDATE of 0 on the connection")
		}
		c.sendWindow += incr
		if c.sendWindow > maxWindow {
			return connError(codeFlowControl, "connection send window over 2^31-1")
		}
		c.wakeSendersLocked()
		return nil
	}
	s := c.find(h.streamID)
	if s == nil {
		return c.checkKnownLocked(h)
	}
	switch {
	case incr == 0:
		c.resetLocked(s, codeProtocol, "WINDOW_UPDATE of 0")
	case s.sendWindow+incr > maxWindow:
		c.resetLocked(s, codeFlowControl, "send window over 2^31-1")
	default:
		s.sendWindow += incr
		if len(s.body) > 0 {
			s.signal()
		}
	}
	return nil
}

func (c *conn) wakeWaitersLocked() {
	for _, s := range c.waiters {
		s.signal()
	}
}

func (c *conn) wakeSendersLocked() {
	for _, s := range c.streams {
		if len(s.body) > 0 {
			s.signal()
		}
	}
}

// removeLocked takes s out of the open streams, letting a waiter have its
// slot.
func (c *conn) removeLocked(s *stream) {
	for i, o := range c.streams {
		if o == s {
			last := len(c.streams) - 1
			c.streams[i] = c.streams[last]
			c.streams[last] = nil
			c.streams = c.streams[:last]
			break
		}
	}
	if len(c.waiters) > 0 {
		c.waiters[0].signal()
	}
}

// endLocked ends s with its response complete.
func (c *conn) endLocked(s *stream) {
	if len(s.body) > 0 {
		// The server answered before the request body was all sent; stop
		// sending it.
		c.wbuf = appendRSTStream(c.wbuf, s.id, codeCancel)
		s.body = nil
	}
	if s.grpc && (s.msgNeed > 0 || s.msgHdrN > 0) {
		c.finishLocked(s, &StreamError{ID: s.id, Code: codeProtocol, Reason: "the stream ended inside a gRPC message"}, false)
		return
	}
	if s.res.ContentLength >= 0 && !c.cfg.GRPC && s.res.Bytes != s.res.ContentLength && !s.noBody() {
		c.finishLocked(s, &StreamError{ID: s.id, Code: codeProtocol, Reason: fmt.Sprintf("content-length %d but %d bytes of body", s.res.ContentLength, s.res.Bytes)}, false)
		return
	}
	c.finishLocked(s, nil, false)
}

// resetLocked ends s with a protocol error and resets it.
func (c *conn) resetLocked(s *stream, code ErrCode, reason string) {
	c.finishLocked(s, &StreamError{ID: s.id, Code: code, Reason: reason}, true)
}

// finishLocked ends the open stream s with err (nil for a response), sends
// RST_STREAM with CANCEL or the error's code if rst is set, and wakes its
// request.
func (c *conn) finishLocked(s *stream, err error, rst bool) {
	if rst {
		code := ErrCode(codeCancel)
		var se *StreamError
		if errors.As(err, &se) {
			code = se.Code
		}
		c.wbuf = appendRSTStream(c.wbuf, s.id, code)
	}
	c.removeLocked(s)
	s.open, s.done, s.err, s.body = false, true, err, nil
	s.signal()
	c.closeIfIdleLocked()
}

// closeIfIdleLocked closes a connection that is going away once its last
// stream is done.
func (c *conn) closeIfIdleLocked() {
	if c.goingAway && len(c.streams) == 0 && c.err == nil {
		c.failLocked(errGoingAway)
		c.nc.Close()
	}
}

// failLocked marks the connection dead and ends its streams with err.
// Waiting requests are woken: they were never sent, and go to another
// connection.
func (c *conn) failLocked(err error) {
	if c.err != nil {
		return
	}
	c.err = err
	c.unusable.Store(true)
	for len(c.streams) > 0 {
		c.finishLocked(c.streams[0], err, false)
	}
	c.wakeWaitersLocked()
}

// close closes the connection: its requests fail with ErrClosed.
func (c *conn) close() {
	c.mu.Lock()
	c.failLocked(ErrClosed)
	c.mu.Unlock()
	c.nc.Close()
}

// flushLocked writes the pending frames unless another goroutine is
// writing, in which case that one writes them after its current write.
// mu is held, and released during the write.
func (c *conn) flushLocked() {
	c.flush(false)
}

// flush is flushLocked; with batch set, a request's frames wait for the
// requests of the other goroutines that are ready to run (the scheduler
// runs them before a goroutine that yields), so that the requests a burst
// of responses released go out in one write: with 32 streams on one core
// that took a write syscall a request down to a few a burst, as h2load
// does with its event loop.
func (c *conn) flush(batch bool) {
	if c.flushing {
		return
	}
	c.flushing = true
	if batch {
		c.mu.Unlock()
		runtime.Gosched()
		c.mu.Lock()
	}
	for len(c.wbuf) > 0 && c.err == nil {
		b := c.wbuf
		c.wbuf = c.wspare[:0]
		c.flushes++
		c.mu.Unlock()
		_, err := c.nc.Write(b)
		c.mu.Lock()
		c.wspare = b[:0]
		if err != nil {
			c.failLocked(fmt.Errorf("write to %s: %w", c.cfg.Addr, err))
			c.nc.Close()
		}
	}
	if c.err != nil {
		c.wbuf = c.wbuf[:0]
	}
	c.flushing = false
}

// watch fails the requests that have run out of time, every eighth of the
// timeout (so a request is cut between 1 and 1.125 timeouts after it
// started): one ticker per connection costs less than a timer armed per
// request. After a timeout it also checks the connection with a PING; a
// connection whose PING or write goes unanswered for a timeout is closed,
// so that a server that vanished without a word does not time every
// request out for the rest of a run.
func (c *conn) watch() {
	tick := time.NewTicker(min(max(c.cfg.Timeout/8, time.Millisecond), time.Second))
	defer tick.Stop()
	var lastFlushes uint64
	var stalledSince time.Time
	for {
		select {
		case <-c.done:
			return
		case now := <-tick.C:
			c.mu.Lock()
			expired := false
			for i := len(c.streams) - 1; i >= 0; i-- {
				if s := c.streams[i]; now.After(s.deadline) {
					c.finishLocked(s, c.cfg.timeoutErr, true)
					expired = true
				}
			}
			for _, s := range c.waiters {
				if !s.done && now.After(s.deadline) {
					s.done, s.err = true, c.cfg.timeoutErr
					s.signal()
				}
			}
			switch {
			case c.pingOut && now.Sub(c.pingSent) > c.cfg.Timeout:
				c.failLocked(fmt.Errorf("%s did not answer a PING within %v", c.cfg.Addr, c.cfg.Timeout))
				c.nc.Close()
			case expired && !c.pingOut && c.err == nil:
				c.pingOut, c.pingSent = true, now
				var data [8]byte
				binary.BigEndian.PutUint64(data[:], uint64(now.UnixNano()))
				c.wbuf = appendPing(c.wbuf, false, data[:])
			}
			if c.flushing && c.flushes == lastFlushes {
				if stalledSince.IsZero() {
					stalledSince = now
				} else if now.Sub(stalledSince) > c.cfg.Timeout {
					c.failLocked(fmt.Errorf("write to %s blocked for over %v", c.cfg.Addr, c.cfg.Timeout))
					c.nc.Close()
				}
			} else {
				stalledSince = time.Time{}
			}
			lastFlushes = c.flushes
			c.flushLocked()
			c.mu.Unlock()
		}
	}
}
