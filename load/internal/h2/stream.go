package h2

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"
)

// Response is what a request got back.
type Response struct {
	Status        int
	ContentType   string
	ContentLength int64 // -1 when the response had none
	// Bytes counts the DATA payload (padding excluded).
	Bytes int64
	// GRPCStatus is the grpc-status of the trailers (or of a
	// trailers-only response), -1 when there was none; GRPCMessage its
	// grpc-message, still percent-encoded.
	GRPCStatus  int
	GRPCMessage string
	// Messages and MessageBytes count the gRPC length-prefixed messages
	// of the response and their bytes, prefixes excluded (Config.GRPC).
	Messages     int
	MessageBytes int64
	// BodyStart is the start of the body of a response that is not
	// gRPC's when Config.GRPC is set, to say what answered; it is reused
	// by the next request.
	BodyStart []byte
}

// stream is the per-request state of one member of a group: it is reused
// for each of the member's requests, on whichever connection the group has
// at the time. Fields other than wake and deadline are guarded by the mu of
// the connection the stream is on.
type stream struct {
	wake     chan struct{} // capacity 1: signals never block the reader
	deadline time.Time

	id      uint32
	open    bool // in conn.streams
	waiting bool // in conn.waiters
	done    bool
	err     error
	final   bool   // final response headers received
	grpc    bool   // the response is gRPC's: its DATA are length-prefixed messages
	head    bool   // the request is HEAD: no body to count against content-length
	body    []byte // request body still to send

	sendWindow  int64
	recvAvail   int64
	recvUnacked int64
	res         Response

	// gRPC message framing: msgHdr collects a 5-byte prefix, msgNeed is
	// what remains of the current message.
	bodyStart []byte // storage of res.BodyStart

	msgHdr  [5]byte
	msgHdrN int
	msgNeed int64
}

func newStream() *stream { return &stream{wake: make(chan struct{}, 1)} }

// signal wakes the stream's request if it waits. The caller holds the
// connection's mu.
func (s *stream) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// drain takes a pending signal, so that the next request does not wake on
// this one's. Signals are sent under the connection's mu, which the caller
// holds, so none can arrive after it.
func (s *stream) drain() {
	select {
	case <-s.wake:
	default:
	}
}

// noBody reports whether the response carries no body whatever its
// content-length says (RFC 9110: HEAD, 204, 304).
func (s *stream) noBody() bool {
	return s.head || s.res.Status == 204 || s.res.Status == 304
}

// messages counts the gRPC messages in a DATA payload, returning why the
// stream must be reset, "" if it need not.
func (s *stream) messages(p []byte, maxMsg int64) string {
	for len(p) > 0 {
		if s.msgNeed == 0 {
			n := copy(s.msgHdr[s.msgHdrN:], p)
			s.msgHdrN += n
			p = p[n:]
			if s.msgHdrN < 5 {
				return ""
			}
			s.msgHdrN = 0
			size := int64(binary.BigEndian.Uint32(s.msgHdr[1:]))
			if maxMsg > 0 && size > maxMsg {
				return fmt.Sprintf("a response message of %d bytes, over the %d allowed", size, maxMsg)
			}
			s.res.Messages++
			s.res.MessageBytes += size
			s.msgNeed = size
			if size == 0 {
				continue
			}
			// msgNeed > 0 marks being inside a message; a 5-byte prefix
			// in progress is marked by msgHdrN.
		}
		n := min(int64(len(p)), s.msgNeed)
		s.msgNeed -= n
		p = p[n:]
	}
	return ""
}

// roundTrip sends req on c as stream s and waits for the response. It
// returns retry = true, with the error, when the request was never sent
// because the connection was closed or going away before it could be: the
// caller may send it on another connection.
func (c *conn) roundTrip(ctx context.Context, s *stream, req *Request) (res Response, retry bool, err error) {
	c.mu.Lock()
	s.done, s.err, s.final, s.grpc = false, nil, false, false
	s.res = Response{Status: -1, ContentLength: -1, GRPCStatus: -1}
	s.bodyStart = s.bodyStart[:0]
	s.msgHdrN, s.msgNeed = 0, 0
	s.head = req.Head
	// Wait for a stream slot: the server's SETTINGS_MAX_CONCURRENT_STREAMS
	// may be lower than the group's members.
	for {
		if s.done { // the watchdog or the run: it ended before it was sent
			c.leaveWaitersLocked(s)
			err = s.err
			break
		}
		if c.err != nil || c.goingAway || c.nextID > maxStreamID {
			c.leaveWaitersLocked(s)
			if c.err == nil && !c.goingAway {
				// Out of stream identifiers: finish the streams in
				// flight, then close.
				c.goingAway = true
				c.unusable.Store(true)
				c.closeIfIdleLocked()
			}
			s.drain()
			c.mu.Unlock()
			return res, true, errGoingAway
		}
		if uint32(len(c.streams)) < c.maxStreams {
			break
		}
		if !s.waiting {
			s.waiting = true
			c.waiters = append(c.waiters, s)
		}
		c.mu.Unlock()
		select {
		case <-s.wake:
		case <-ctx.Done():
		}
		c.mu.Lock()
		if ctx.Err() != nil && !s.done {
			s.done, s.err = true, interrupted(ctx)
		}
	}
	if err != nil {
		s.drain()
		c.mu.Unlock()
		return res, false, err
	}
	c.leaveWaitersLocked(s)
	s.id = c.nextID
	c.nextID += 2
	s.open = true
	c.streams = append(c.streams, s)
	s.sendWindow, s.recvAvail, s.recvUnacked = c.peerInitWindow, streamWindow, 0
	s.body = req.Body
	c.wbuf = appendHeaders(c.wbuf, s.id, req.Block, len(req.Body) == 0, c.peerMaxFrame)
	for batch := true; ; batch = false {
		c.sendBodyLocked(s)
		c.flush(batch)
		if s.done {
			break
		}
		c.mu.Unlock()
		select {
		case <-s.wake:
		case <-ctx.Done():
		}
		c.mu.Lock()
		if !s.done && ctx.Err() != nil {
			c.finishLocked(s, interrupted(ctx), true)
			c.flushLocked()
		}
	}
	s.drain()
	res, err = s.res, s.err
	c.mu.Unlock()
	return res, false, err
}

// leaveWaitersLocked takes s out of the waiters if it is there.
func (c *conn) leaveWaitersLocked(s *stream) {
	if !s.waiting {
		return
	}
	s.waiting = false
	for i, w := range c.waiters {
		if w == s {
			copy(c.waiters[i:], c.waiters[i+1:])
			c.waiters[len(c.waiters)-1] = nil
			c.waiters = c.waiters[:len(c.waiters)-1]
			return
		}
	}
}

// sendBodyLocked queues as much of the request body as the flow-control
// windows allow, in DATA frames the peer accepts.
func (c *conn) sendBodyLocked(s *stream) {
	for len(s.body) > 0 && !s.done {
		n := min(int64(len(s.body)), int64(c.peerMaxFrame), c.sendWindow, s.sendWindow)
		if n <= 0 {
			return // a WINDOW_UPDATE or SETTINGS will wake the request
		}
		var flags uint8
		if n == int64(len(s.body)) {
			flags = flagEndStream
		}
		c.wbuf = appendFrameHeader(c.wbuf, int(n), frameData, flags, s.id)
		c.wbuf = append(c.wbuf, s.body[:n]...)
		s.body = s.body[n:]
		c.sendWindow -= n
		s.sendWindow -= n
	}
}

// interrupted is the error of a request whose run stopped.
func interrupted(ctx context.Context) error {
	return fmt.Errorf("request interrupted: %w", ctx.Err())
}
