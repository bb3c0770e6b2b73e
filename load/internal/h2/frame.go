package h2

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Frame types (RFC 9113, section 6).
const (
	frameData         = 0x0
	frameHeaders      = 0x1
	framePriority     = 0x2
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePushPromise  = 0x5
	framePing         = 0x6
	frameGoAway       = 0x7
	frameWindowUpdate = 0x8
	frameContinuation = 0x9
)

// Frame flags.
const (
	flagEndStream  = 0x1
	flagAck        = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20
)

// Settings identifiers.
const (
	settingHeaderTableSize      = 0x1
	settingEnablePush           = 0x2
	settingMaxConcurrentStreams = 0x3
	settingInitialWindowSize    = 0x4
	settingMaxFrameSize         = 0x5
	settingMaxHeaderListSize    = 0x6
)

// Error codes (RFC 9113, section 7).
const (
	codeNo                 = 0x0
	codeProtocol           = 0x1
	codeInternal           = 0x2
	codeFlowControl        = 0x3
	codeSettingsTimeout    = 0x4
	codeStreamClosed       = 0x5
	codeFrameSize          = 0x6
	codeRefusedStream      = 0x7
	codeCancel             = 0x8
	codeCompression        = 0x9
	codeConnect            = 0xa
	codeEnhanceYourCalm    = 0xb
	codeInadequateSecurity = 0xc
	codeHTTP11Required     = 0xd
)

// ErrCode is an HTTP/2 error code, as carried by RST_STREAM and GOAWAY.
type ErrCode uint32

var codeNames = [...]string{
	"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
	"STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR",
	"CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
}

func (c ErrCode) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("unknown error code 0x%x", uint32(c))
}

const (
	frameHeaderLen = 9
	// defaultMaxFrameSize is the largest frame payload either side may
	// send before SETTINGS say otherwise; it is also the largest this
	// client accepts, since it never advertises more.
	defaultMaxFrameSize = 16384
	maxWindow           = 1<<31 - 1
	// readBufferSize holds several full-size frames, so that one read
	// syscall can take a burst of small responses.
	readBufferSize = 64 << 10
)

// ErrProtocol is wrapped by every error about a peer that broke HTTP/2:
// bad framing, a broken flow-control or stream-state rule, bad header
// compression.
var ErrProtocol = errors.New("HTTP/2 protocol error")

// ConnError is a connection error: the peer broke the protocol and the
// connection is closed with a GOAWAY carrying Code.
type ConnError struct {
	Code   ErrCode
	Reason string
}

func (e *ConnError) Error() string {
	return fmt.Sprintf("%v: %s (%v)", ErrProtocol, e.Reason, e.Code)
}

func (e *ConnError) Unwrap() error { return ErrProtocol }

func connError(code ErrCode, format string, args ...any) error {
	return &ConnError{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// frameHeader is the fixed 9-octet header of every frame.
type frameHeader struct {
	length   uint32
	typ      uint8
	flags    uint8
	streamID uint32
}

// frameReader reads frames from a connection into one fixed buffer: the
// payload it returns is valid until the next call, and reading allocates
// nothing.
type frameReader struct {
	r          io.Reader
	buf        []byte
	start, end int // unread bytes are buf[start:end]
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: r, buf: make([]byte, readBufferSize)}
}

// fill makes at least n bytes readable. A read error before n bytes is
// returned; io.EOF only when nothing at all had arrived of the frame.
func (fr *frameReader) fill(n int) error {
	if fr.end-fr.start >= n {
		return nil
	}
	if fr.start+n > len(fr.buf) {
		fr.end = copy(fr.buf, fr.buf[fr.start:fr.end])
		fr.start = 0
	}
	for fr.end-fr.start < n {
		m, err := fr.r.Read(fr.buf[fr.end:])
		fr.end += m
		if fr.end-fr.start >= n {
			return nil
		}
		if err != nil {
			if err == io.EOF && fr.end > fr.start {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// next reads one frame and checks what can be checked of it alone: its
// size, and the stream it may or may not be on. It returns the payload with
// any padding (and a HEADERS frame's priority fields) removed.
func (fr *frameReader) next() (frameHeader, []byte, error) {
	if err := fr.fill(frameHeaderLen); err != nil {
		return frameHeader{}, nil, err
	}
	b := fr.buf[fr.start : fr.start+frameHeaderLen]
	h := frameHeader{
		length:   uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]),
		typ:      b[3],
		flags:    b[4],
		streamID: binary.BigEndian.Uint32(b[5:]) & (1<<31 - 1),
	}
	if h.length > defaultMaxFrameSize {
		return h, nil, connError(codeFrameSize, "frame of type %d is %d bytes, over the %d this client allows", h.typ, h.length, defaultMaxFrameSize)
	}
	if err := fr.fill(frameHeaderLen + int(h.length)); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return h, nil, err
	}
	p := fr.buf[fr.start+frameHeaderLen : fr.start+frameHeaderLen+int(h.length)]
	fr.start += frameHeaderLen + int(h.length)
	p, err := checkFrame(h, p)
	return h, p, err
}

// checkFrame applies the rules of RFC 9113 section 6 that need nothing but
// the frame, and strips padding and priority fields.
func checkFrame(h frameHeader, p []byte) ([]byte, error) {
	onStream := func() error {
		if h.streamID == 0 {
			return connError(codeProtocol, "frame of type %d on stream 0", h.typ)
		}
		return nil
	}
	onConn := func() error {
		if h.streamID != 0 {
			return connError(codeProtocol, "frame of type %d on stream %d, want stream 0", h.typ, h.streamID)
		}
		return nil
	}
	switch h.typ {
	case frameData, frameHeaders:
		if err := onStream(); err != nil {
			return nil, err
		}
		if h.flags&flagPadded != 0 {
			if len(p) == 0 {
				return nil, connError(codeFrameSize, "padded frame without a pad length")
			}
			pad := int(p[0])
			if pad >= len(p) {
				return nil, connError(codeProtocol, "padding of %d bytes in a %d-byte frame", pad, len(p))
			}
			p = p[1 : len(p)-pad]
		}
		if h.typ == frameHeaders && h.flags&flagPriority != 0 {
			if len(p) < 5 {
				return nil, connError(codeFrameSize, "HEADERS frame too short for its priority fields")
			}
			p = p[5:]
		}
	case framePriority:
		if err := onStream(); err != nil {
			return nil, err
		}
		if len(p) != 5 {
			return nil, connError(codeFrameSize, "PRIORITY frame of %d bytes, want 5", len(p))
		}
	case frameRSTStream:
		if err := onStream(); err != nil {
			return nil, err
		}
		if len(p) != 4 {
			return nil, connError(codeFrameSize, "RST_STREAM frame of %d bytes, want 4", len(p))
		}
	case frameSettings:
		if err := onConn(); err != nil {
			return nil, err
		}
		if h.flags&flagAck != 0 && len(p) != 0 {
			return nil, connError(codeFrameSize, "SETTINGS acknowledgement with a %d-byte payload", len(p))
		}
		if len(p)%6 != 0 {
			return nil, connError(codeFrameSize, "SETTINGS frame of %d bytes, not a multiple of 6", len(p))
		}
	case framePushPromise:
		// This client sends SETTINGS_ENABLE_PUSH = 0.
		return nil, connError(codeProtocol, "PUSH_PROMISE received although push is disabled")
	case framePing:
		if err := onConn(); err != nil {
			return nil, err
		}
		if len(p) != 8 {
			return nil, connError(codeFrameSize, "PING frame of %d bytes, want 8", len(p))
		}
	case frameGoAway:
		if err := onConn(); err != nil {
			return nil, err
		}
		if len(p) < 8 {
			return nil, connError(codeFrameSize, "GOAWAY frame of %d bytes, want at least 8", len(p))
		}
	case frameWindowUpdate:
		if len(p) != 4 {
			return nil, connError(codeFrameSize, "WINDOW_UPDATE frame of %d bytes, want 4", len(p))
		}
	case frameContinuation:
		if err := onStream(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Appending frames to a write buffer: the frame header, then the payload.

func appendFrameHeader(b []byte, length int, typ, flags uint8, streamID uint32) []byte {
	return append(b, byte(length>>16), byte(length>>8), byte(length), typ, flags,
		byte(streamID>>24), byte(streamID>>16), byte(streamID>>8), byte(streamID))
}

func appendUint32(b []byte, v uint32) []byte {
	return binary.BigEndian.AppendUint32(b, v)
}

func appendSetting(b []byte, id uint16, v uint32) []byte {
	return appendUint32(binary.BigEndian.AppendUint16(b, id), v)
}

func appendWindowUpdate(b []byte, streamID, incr uint32) []byte {
	return appendUint32(appendFrameHeader(b, 4, frameWindowUpdate, 0, streamID), incr)
}

func appendRSTStream(b []byte, streamID uint32, code ErrCode) []byte {
	return appendUint32(appendFrameHeader(b, 4, frameRSTStream, 0, streamID), uint32(code))
}

func appendPing(b []byte, ack bool, data []byte) []byte {
	var flags uint8
	if ack {
		flags = flagAck
	}
	return append(appendFrameHeader(b, 8, framePing, flags, 0), data[:8]...)
}

func appendGoAway(b []byte, lastID uint32, code ErrCode) []byte {
	b = appendFrameHeader(b, 8, frameGoAway, 0, 0)
	return appendUint32(appendUint32(b, lastID), uint32(code))
}

// appendHeaders appends a header block as a HEADERS frame and as many
// CONTINUATION frames as maxFrame requires.
func appendHeaders(b []byte, streamID uint32, block []byte, endStream bool, maxFrame int) []byte {
	var flags uint8
	if endStream {
		flags = flagEndStream
	}
	typ := uint8(frameHeaders)
	for {
		n := min(len(block), maxFrame)
		f := flags
		if n == len(block) {
			f |= flagEndHeaders
		}
		b = appendFrameHeader(b, n, typ, f, streamID)
		b = append(b, block[:n]...)
		block = block[n:]
		if len(block) == 0 {
			return b
		}
		typ, flags = frameContinuation, 0
	}
}
