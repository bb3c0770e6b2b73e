package target

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
)

// Limits of the HTTP/1.1 request parser. A line must fit in the connection's
// read buffer (readBufSize), which is what bounds a single header or the
// request target.
const (
	readBufSize    = 8 << 10
	maxHeaderBytes = 64 << 10
	maxHeaders     = 128
	maxEmptyLines  = 4 // tolerated before a request line (RFC 9112 §2.2)
)

// httpError is a request the parser refuses, with the status to answer;
// the connection is closed afterwards since its framing is in doubt.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

var (
	errBadRequest   = &httpError{http.StatusBadRequest, "malformed request"}
	errBadChunk     = &httpError{http.StatusBadRequest, "malformed chunked body"}
	errLineTooLong  = &httpError{http.StatusRequestHeaderFieldsTooLarge, "request line or header too long"}
	errTooLarge     = &httpError{http.StatusRequestHeaderFieldsTooLarge, "request headers too large"}
	errVersion      = &httpError{http.StatusHTTPVersionNotSupported, "only HTTP/1.0 and HTTP/1.1 are served here (HTTP/2 by prior knowledge or Upgrade: h2c)"}
	errTransferCode = &httpError{http.StatusNotImplemented, "only the chunked transfer coding is supported"}
	errAmbiguous    = &httpError{http.StatusBadRequest, "both Content-Length and Transfer-Encoding, or conflicting Content-Length values"}
	errBodyTooLarge = &httpError{http.StatusRequestEntityTooLarge, "request body too large to echo (see --max-echo)"}
	errNoHost       = &httpError{http.StatusBadRequest, "an HTTP/1.1 request needs a Host header (RFC 9112 §3.2)"}
	errTwoHosts     = &httpError{http.StatusBadRequest, "more than one Host header (RFC 9112 §3.2)"}
	errOverBudget   = &httpError{http.StatusServiceUnavailable, "over the in-flight byte budget (--max-inflight-bytes); retry later"}
)

// span locates bytes in request.buf. The parser copies what it keeps out
// of the bufio.Reader, whose buffer the next read overwrites.
type span struct{ start, end int }

type field struct{ name, value span }

// request is one parsed HTTP/1.x request head. It is reused from request
// to request on a connection, so parsing a request allocates nothing once
// the connection has warmed up.
type request struct {
	buf    []byte // arena holding every span
	method span
	target span
	host   span
	nhost  int // Host fields seen
	fields []field
	minor  int // HTTP/1.minor

	contentLength int64 // -1: none
	chunked       bool
	close         bool // the connection closes after this exchange
	keepAlive10   bool // an HTTP/1.0 client asked for keep-alive
	expect100     bool
	h2preface     bool // "PRI * HTTP/2.0": the HTTP/2 connection preface
	upgradeH2C    bool // Upgrade: h2c
	connUpgrade   bool // Connection: upgrade
	connSettings  bool // Connection: HTTP2-Settings
	settings      span
	hasSettings   bool
	hasSMP        bool // some x-smp-* header is present
}

func (r *request) bytes(s span) []byte { return r.buf[s.start:s.end] }

func (r *request) keep(b []byte) span {
	start := len(r.buf)
	r.buf = append(r.buf, b...)
	return span{start, len(r.buf)}
}

func (r *request) reset() {
	buf, fields := r.buf[:0], r.fields[:0]
	*r = request{buf: buf, fields: fields, contentLength: -1}
}

// isMethod compares the method without allocating.
func (r *request) isMethod(m string) bool { return string(r.bytes(r.method)) == m }

// wantsUpgrade reports an h2c upgrade request (RFC 7540 §3.2).
func (r *request) wantsUpgrade() bool {
	return r.upgradeH2C && r.connUpgrade && r.connSettings && r.hasSettings
}

// readLine returns the next line without its CRLF (or bare LF, which RFC
// 9112 lets a recipient accept). The slice is only valid until the next read.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errLineTooLong
		}
		if errors.Is(err, io.EOF) && len(line) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// readRequest reads a request line and headers into r. It returns io.EOF
// when the connection closes cleanly between requests, an *httpError for a
// request to refuse, and other errors for a broken connection. The body, if
// any, is left for readBody.
func readRequest(br *bufio.Reader, r *request) error {
	r.reset()
	var line []byte
	for i := 0; ; i++ {
		var err error
		line, err = readLine(br)
		if err != nil {
			return err
		}
		if len(line) > 0 {
			break
		}
		if i >= maxEmptyLines {
			return errBadRequest
		}
	}
	if err := r.parseRequestLine(line); err != nil {
		return err
	}
	total := len(line)
	for {
		line, err := readLine(br)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		if len(line) == 0 {
			break
		}
		total += len(line)
		if total > maxHeaderBytes || len(r.fields) >= maxHeaders {
			return errTooLarge
		}
		if err := r.parseField(line); err != nil {
			return err
		}
	}
	if r.chunked && r.contentLength >= 0 {
		// A request smuggling vector when a proxy reads it the other way.
		return errAmbiguous
	}
	// RFC 9112 §3.2: a server answers 400 to an HTTP/1.1 request without
	// a Host field and to any request with more than one. (The HTTP/2
	// preface is not a request and has none.)
	if r.nhost > 1 {
		return errTwoHosts
	}
	if r.minor == 1 && r.nhost == 0 && !r.h2preface {
		return errNoHost
	}
	if r.minor == 0 {
		r.close = !r.keepAlive10
		if r.chunked {
			// HTTP/1.0 has no transfer codings: the framing is faulty
			// (RFC 9112 §6.1), and 400 closes the connection.
			return errBadRequest
		}
	}
	return nil
}

func (r *request) parseRequestLine(line []byte) error {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return errBadRequest
	}
	method, rest := line[:sp1], line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return errBadRequest
	}
	target, version := rest[:sp2], rest[sp2+1:]
	if !isToken(method) || !validTarget(target) {
		return errBadRequest
	}
	switch string(version) {
	case "HTTP/1.1":
		r.minor = 1
	case "HTTP/1.0":
		r.minor = 0
	case "HTTP/2.0":
		if string(method) != "PRI" || string(target) != "*" {
			return errBadRequest
		}
		r.h2preface = true
	default:
		if len(version) == 8 && string(version[:5]) == "HTTP/" && isDigit(version[5]) && version[6] == '.' && isDigit(version[7]) {
			return errVersion
		}
		return errBadRequest
	}
	r.method = r.keep(method)
	r.target = r.keep(target)
	return nil
}

// parseField records one header field and interprets the few the server
// acts on. Names are matched by length first to keep the common case cheap.
func (r *request) parseField(line []byte) error {
	if line[0] == ' ' || line[0] == '\t' {
		return errBadRequest // obsolete line folding (RFC 9112 §5.2)
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || !isToken(line[:colon]) {
		return errBadRequest
	}
	name, value := line[:colon], trimOWS(line[colon+1:])
	if !validValue(value) {
		return errBadRequest
	}
	f := field{name: r.keep(name), value: r.keep(value)}
	r.fields = append(r.fields, f)
	switch len(name) {
	case 4:
		if bytes.EqualFold(name, []byte("host")) {
			r.host = f.value
			r.nhost++
		}
	case 6:
		if bytes.EqualFold(name, []byte("expect")) && bytes.EqualFold(value, []byte("100-continue")) {
			r.expect100 = true
		}
	case 7:
		if bytes.EqualFold(name, []byte("upgrade")) {
			eachToken(value, func(t []byte) {
				if bytes.EqualFold(t, []byte("h2c")) {
					r.upgradeH2C = true
				}
			})
		}
	case 10:
		if bytes.EqualFold(name, []byte("connection")) {
			eachToken(value, func(t []byte) {
				switch {
				case bytes.EqualFold(t, []byte("close")):
					r.close = true
				case bytes.EqualFold(t, []byte("keep-alive")):
					r.keepAlive10 = true
				case bytes.EqualFold(t, []byte("upgrade")):
					r.connUpgrade = true
				case bytes.EqualFold(t, []byte("http2-settings")):
					r.connSettings = true
				}
			})
		}
	case 14:
		if bytes.EqualFold(name, []byte("content-length")) {
			n, ok := parseContentLength(value)
			if !ok {
				return errBadRequest
			}
			if r.contentLength >= 0 && r.contentLength != n {
				return errAmbiguous
			}
			r.contentLength = n
		} else if bytes.EqualFold(name, []byte("http2-settings")) {
			r.settings, r.hasSettings = f.value, true
		}
	case 17:
		if bytes.EqualFold(name, []byte("transfer-encoding")) {
			if !bytes.EqualFold(value, []byte("chunked")) || r.chunked {
				return errTransferCode
			}
			r.chunked = true
		}
	}
	if len(name) > len(headerPrefix) && bytes.EqualFold(name[:len(headerPrefix)], []byte(headerPrefix)) {
		r.hasSMP = true
	}
	return nil
}

// eachToken calls fn with every element of a comma-separated list.
func eachToken(v []byte, fn func([]byte)) {
	for len(v) > 0 {
		var t []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			t, v = v[:i], v[i+1:]
		} else {
			t, v = v, nil
		}
		if t = trimOWS(t); len(t) > 0 {
			fn(t)
		}
	}
}

// parseContentLength accepts 1*DIGIT, up to 18 digits so that it cannot
// overflow an int64.
func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isToken reports an RFC 9110 token (method, header name).
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenChar(c) {
			return false
		}
	}
	return true
}

func tokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// validTarget rejects an empty target and any control character or space.
func validTarget(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// validValue rejects control characters other than HTAB: a stray CR or NUL
// in a header value is how response splitting and smuggling start.
func validValue(b []byte) bool {
	for _, c := range b {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
