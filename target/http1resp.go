package target

import (
	"bufio"
	"net/http"
	"strconv"
)

// inlineBodyMax is the largest body stored inside the canned default
// response, so that a small response is one Write of one slice.
const inlineBodyMax = 16 << 10

// fillerSize is the size of the shared response-body pattern; larger
// bodies are written as repeats of it.
const fillerSize = 64 << 10

// newFiller returns the bytes response bodies are cut from: printable, so
// that a body looks sane in a terminal, and not all one byte, so that a
// compressing proxy does not make every size free.
func newFiller() []byte {
	const pattern = "smp-target-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n"
	b := make([]byte, fillerSize)
	for i := range b {
		b[i] = pattern[i%len(pattern)]
	}
	return b
}

// headOptions are the variable parts of a response head.
type headOptions struct {
	status        int
	contentLength int
	noBody        bool   // 204 and 304 carry neither body nor Content-Length
	close         bool   // Connection: close
	keepAlive10   bool   // Connection: keep-alive, for an HTTP/1.0 client
	unknown       string // X-Smp-Unknown-Params
	contentType   string // default application/octet-stream when there is a body
	extra         []byte // further header lines, each ending in CRLF
}

// appendHead appends an HTTP/1.1 response head.
func appendHead(dst []byte, o headOptions) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(o.status), 10)
	dst = append(dst, ' ')
	dst = append(dst, http.StatusText(o.status)...)
	dst = append(dst, "\r\n"...)
	if !o.noBody {
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, int64(o.contentLength), 10)
		dst = append(dst, "\r\n"...)
		if o.contentType != "" {
			dst = append(dst, "Content-Type: "...)
			dst = append(dst, o.contentType...)
			dst = append(dst, "\r\n"...)
		} else if o.contentLength > 0 {
			dst = append(dst, "Content-Type: application/octet-stream\r\n"...)
		}
	}
	if o.unknown != "" {
		dst = append(dst, unknownHeader+": "...)
		dst = append(dst, o.unknown...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, o.extra...)
	if o.close {
		dst = append(dst, "Connection: close\r\n"...)
	} else if o.keepAlive10 {
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// noBodyStatus reports statuses that must not carry a body.
func noBodyStatus(status int) bool {
	return status == http.StatusNoContent || status == http.StatusNotModified
}

// writeFiller writes n bytes of filler.
func writeFiller(bw *bufio.Writer, filler []byte, n int) error {
	for n > 0 {
		k := min(n, len(filler))
		if _, err := bw.Write(filler[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// defaultsState is the current default Behavior with what the HTTP/1.1
// fast path precomputes from it: the whole response of a plain request.
type defaultsState struct {
	b      Behavior
	canned []byte // response head, and the body too when inline
	inline bool
}

func newDefaultsState(b Behavior, filler []byte) *defaultsState {
	st := &defaultsState{b: b}
	status := b.status()
	o := headOptions{status: status, contentLength: b.Size, noBody: noBodyStatus(status)}
	st.canned = appendHead(nil, o)
	if o.noBody || b.Size <= inlineBodyMax {
		if !o.noBody {
			st.canned = append(st.canned, filler[:b.Size]...)
		}
		st.inline = true
	}
	return st
}
