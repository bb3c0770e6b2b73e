package h2

import (
	"bytes"
	"errors"
	"io"
	"net"
	"reflect"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"
)

// byteConn is a connection whose reads come from a byte slice and whose
// writes are dropped: what the fuzz target feeds the frame reader with. It
// stands in for the socket only; every HTTP/2 rule is the client's own.
type byteConn struct {
	net.Conn
	r *bytes.Reader
}

func (b *byteConn) Read(p []byte) (int, error)       { return b.r.Read(p) }
func (b *byteConn) Write(p []byte) (int, error)      { return len(p), nil }
func (b *byteConn) Close() error                     { return nil }
func (b *byteConn) SetDeadline(time.Time) error      { return nil }
func (b *byteConn) SetReadDeadline(time.Time) error  { return nil }
func (b *byteConn) SetWriteDeadline(time.Time) error { return nil }

// serverFrames builds server frame sequences for the seeds.
type serverFrames []byte

func (f serverFrames) frame(typ, flags uint8, id uint32, payload ...byte) serverFrames {
	return append(appendFrameHeader(f, len(payload), typ, flags, id), payload...)
}

func (f serverFrames) headers(id uint32, end bool, fields ...hpack.HeaderField) serverFrames {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, hf := range fields {
		enc.WriteField(hf)
	}
	flags := uint8(flagEndHeaders)
	if end {
		flags |= flagEndStream
	}
	return f.frame(frameHeaders, flags, id, buf.Bytes()...)
}

func status(s string) hpack.HeaderField { return hpack.HeaderField{Name: ":status", Value: s} }

// fuzzStreams is how many streams the fuzzed connection has open: 1, 3, 5.
const fuzzStreams = 3

// readFrames runs a connection that has fuzzStreams requests in flight
// over data, to its end. It returns nil if data fails the server preface.
func readFrames(cfg *Config, data []byte) (*conn, []*stream) {
	c := newConn(cfg, &byteConn{r: bytes.NewReader(data)})
	if err := c.readServerPreface(); err != nil {
		return nil, nil
	}
	streams := make([]*stream, fuzzStreams)
	for i := range streams {
		s := newStream()
		s.res = Response{Status: -1, ContentLength: -1, GRPCStatus: -1}
		s.id, s.open = c.nextID, true
		c.nextID += 2
		s.sendWindow, s.recvAvail = c.peerInitWindow, streamWindow
		c.streams = append(c.streams, s)
		streams[i] = s
	}
	c.readLoop()
	return c, streams
}

// okFrames answers the three streams: 200 with a 5-byte body (not gRPC's:
// counted, not read as messages), 204, and a gRPC response with one 2-byte
// message and status 0.
var okFrames = serverFrames{}.frame(frameSettings, 0, 0).
	headers(1, false, status("200"), hpack.HeaderField{Name: "content-length", Value: "5"}).
	frame(frameData, flagEndStream, 1, 'h', 'e', 'l', 'l', 'o').
	headers(3, true, status("204")).
	headers(5, false, status("200"), hpack.HeaderField{Name: "content-type", Value: "application/grpc"}).
	frame(frameData, 0, 5, 0, 0, 0, 0, 2, 'h', 'i').
	headers(5, true, hpack.HeaderField{Name: "grpc-status", Value: "0"})

// TestFramesAnswered: the fuzz seed that answers every stream is read as
// the responses it holds, and its last stream's message too.
func TestFramesAnswered(t *testing.T) {
	c, streams := readFrames(&Config{Addr: "test", Timeout: time.Second, GRPC: true}, okFrames)
	if c == nil || !errors.Is(c.err, io.EOF) {
		t.Fatalf("connection ended with %v, want EOF after the frames", c.err)
	}
	for i, want := range []Response{
		{Status: 200, ContentLength: 5, Bytes: 5, GRPCStatus: -1, BodyStart: []byte("hello")},
		{Status: 204, ContentLength: -1, GRPCStatus: -1},
		{Status: 200, ContentType: "application/grpc", ContentLength: -1, Bytes: 7, GRPCStatus: 0, Messages: 1, MessageBytes: 2},
	} {
		s := streams[i]
		if s.err != nil || !reflect.DeepEqual(s.res, want) {
			t.Errorf("stream %d: %+v, %v; want %+v", s.id, s.res, s.err, want)
		}
	}
}

// FuzzFrames feeds the frame reader and the connection's frame handling
// arbitrary server bytes, with three requests in flight. Whatever arrives,
// nothing panics, the connection ends when the bytes do, every request
// ends, and a request that succeeded had a final status and a body within
// its declared length.
func FuzzFrames(f *testing.F) {
	f.Add([]byte(okFrames))
	f.Add([]byte(okFrames.frame(frameGoAway, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0)))
	f.Add([]byte(serverFrames{}.frame(frameSettings, 0, 0, 0, 3, 0, 0, 0, 1).
		frame(framePing, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8).
		frame(frameWindowUpdate, 0, 0, 0, 0, 1, 0).
		frame(frameRSTStream, 0, 3, 0, 0, 0, codeRefusedStream).
		headers(1, false, status("103")).
		frame(frameHeaders, 0, 5, 0x88).frame(frameContinuation, flagEndHeaders, 5).
		frame(frameData, flagPadded|flagEndStream, 5, 2, 'x', 0, 0).
		frame(frameGoAway, 0, 0, 0, 0, 0, 1, 0, 0, 0, codeEnhanceYourCalm, 'b', 'y', 'e')))
	f.Add([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
	f.Add([]byte(serverFrames{}.frame(frameSettings, 0, 0).frame(frameData, 0, 7, 'x')))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := &Config{Addr: "fuzz", Timeout: time.Second, GRPC: len(data) > 0 && data[0]&1 == 1, MaxMessage: 1 << 20}
		c, streams := readFrames(cfg, data)
		if c == nil {
			return
		}
		if c.err == nil {
			t.Fatal("the read loop returned with the connection alive")
		}
		if len(c.streams) != 0 {
			t.Fatalf("%d streams still open after the connection ended", len(c.streams))
		}
		for _, s := range streams {
			if !s.done {
				t.Fatalf("stream %d never ended", s.id)
			}
			if s.err != nil {
				continue
			}
			if !s.final || s.res.Status < 200 || s.res.Status > 999 {
				t.Fatalf("stream %d succeeded without a final status: %+v", s.id, s.res)
			}
			if cl := s.res.ContentLength; !cfg.GRPC && cl >= 0 && s.res.Status != 204 && s.res.Status != 304 && cl != s.res.Bytes {
				t.Fatalf("stream %d succeeded with %d body bytes against content-length %d", s.id, s.res.Bytes, cl)
			}
			if cfg.GRPC && s.msgNeed != 0 {
				t.Fatalf("stream %d succeeded inside a gRPC message", s.id)
			}
		}
		if errors.Is(c.err, io.EOF) && len(data) == 0 {
			t.Fatal("EOF before any byte must fail the preface")
		}
	})
}
