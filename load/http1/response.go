package http1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrMalformedResponse is wrapped by every error about a response that breaks
// HTTP/1.1 framing, so that the engine can count protocol errors apart from
// network ones.
var ErrMalformedResponse = errors.New("malformed HTTP/1.1 response")

const (
	// maxHeaderBytes bounds the status lines and header fields of one
	// response (interim responses and trailers included), like net/http's
	// limit, so that a server streaming headers cannot keep a Conn busy.
	maxHeaderBytes = 1 << 20
	// maxInterim bounds the 1xx responses before a final one.
	maxInterim = 16
)

// response is what readResponse learned from one exchange.
type response struct {
	code     int
	bytes    int64 // body bytes, chunk framing excluded
	close    bool  // the connection must not carry another request
	received bool  // at least one byte of a response arrived
	faulty   bool  // HTTP/1.0 with Transfer-Encoding: read to the close
}

// framing is what the header fields say about how the body is delimited.
type framing struct {
	contentLength int64 // -1 when absent
	te            bool  // Transfer-Encoding present
	chunked       bool  // ... and chunked is its final coding
	close         bool  // Connection: close
	keepAlive     bool  // Connection: keep-alive (matters for HTTP/1.0)
}

// readResponse reads one final response, skipping interim (1xx) ones, and
// discards its body. Everything it reads stays in br's buffer, so it
// allocates only to report an error.
func readResponse(br *bufio.Reader, head bool) (response, error) {
	var res response
	budget := maxHeaderBytes
	for interim := 0; ; interim++ {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			res.received = true
		}
		budget -= len(line)
		if err == bufio.ErrBufferFull {
			return res, malformed("status line longer than %d bytes", len(line))
		}
		if err != nil {
			if res.received {
				// A server closing the connection while idle sends
				// nothing; a partial status line is a broken response.
				err = unexpectedEOF(err)
			}
			return res, fmt.Errorf("http1: read status line: %w", err)
		}
		code, http10, err := parseStatusLine(trimEOL(line))
		if err != nil {
			return res, err
		}
		f, err := readFields(br, &budget, false)
		if err != nil {
			return res, err
		}
		if code < 200 {
			if code == 101 {
				return res, malformed("unexpected 101 Switching Protocols (no upgrade was requested)")
			}
			if interim == maxInterim {
				return res, malformed("more than %d interim (1xx) responses", maxInterim)
			}
			continue
		}
		res.code = code
		res.close = f.close || (http10 && !f.keepAlive)
		switch {
		case head || code == 204 || code == 304:
			// No body, whatever the framing headers announce.
		case http10 && f.te:
			// HTTP/1.0 has no transfer codings: RFC 9112 §6.1 says to
			// treat such a message's framing as faulty, Content-Length
			// included, and to close the connection. The only framing
			// left is the end of the connection, which is also what
			// net/http reads when no Content-Length is given.
			res.close, res.faulty = true, true
			res.bytes, err = discardAll(br)
		case f.te:
			if f.contentLength >= 0 {
				// Both framings at once is how request smuggling
				// looks; Transfer-Encoding wins (RFC 9112 6.3) but
				// the connection is not reused.
				res.close = true
			}
			if !f.chunked {
				// Without chunked as the final coding the body
				// ends when the server closes the connection.
				res.close = true
				res.bytes, err = discardAll(br)
				break
			}
			res.bytes, err = readChunked(br, &budget)
		case f.contentLength >= 0:
			res.bytes, err = discard(br, f.contentLength)
			if err != nil {
				err = fmt.Errorf("http1: read body (%d of %d bytes): %w", res.bytes, f.contentLength, err)
			}
		default:
			res.close = true
			res.bytes, err = discardAll(br)
		}
		return res, err
	}
}

// parseStatusLine parses "HTTP/1.x SP 3DIGIT [SP reason]".
func parseStatusLine(line []byte) (code int, http10 bool, err error) {
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' ||
		(len(line) > 12 && line[12] != ' ') {
		return 0, false, malformed("bad status line %q", excerpt(line))
	}
	switch line[7] {
	case '0':
		http10 = true
	case '1':
	default:
		return 0, false, malformed("unsupported version in status line %q", excerpt(line))
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return 0, false, malformed("bad status code in status line %q", excerpt(line))
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 {
		return 0, false, malformed("bad status code in status line %q", excerpt(line))
	}
	return code, http10, nil
}

// readFields reads header (or, with trailers set, trailer) fields up to the
// empty line that ends them, interpreting only the ones framing depends on.
func readFields(br *bufio.Reader, budget *int, trailers bool) (framing, error) {
	f := framing{contentLength: -1}
	what := "header"
	if trailers {
		what = "trailer"
	}
	lastFraming := false // the previous field was one we interpret
	for {
		line, err := br.ReadSlice('\n')
		*budget -= len(line)
		if *budget < 0 {
			return f, malformed("header section longer than %d bytes", maxHeaderBytes)
		}
		if err == bufio.ErrBufferFull {
			// A field longer than the read buffer can only be one we
			// ignore: skip it without buffering it.
			name, _, ok := bytes.Cut(line, []byte(":"))
			if !ok || (!trailers && isFramingField(name)) {
				return f, malformed("%s field longer than %d bytes", what, len(line))
			}
			if err := skipLine(br, budget); err != nil {
				return f, err
			}
			lastFraming = false
			continue
		}
		if err != nil {
			return f, fmt.Errorf("http1: read %s: %w", what, unexpectedEOF(err))
		}
		line = trimEOL(line)
		if len(line) == 0 {
			return f, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			// Obsolete line folding continues the previous field; that
			// is harmless only for a field we ignore.
			if lastFraming {
				return f, malformed("folded framing %s field %q", what, excerpt(line))
			}
			continue
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return f, malformed("%s line without a colon %q", what, excerpt(line))
		}
		if len(name) == 0 {
			return f, malformed("%s line with an empty field name %q", what, excerpt(line))
		}
		if c := name[len(name)-1]; c == ' ' || c == '\t' {
			return f, malformed("whitespace before the colon in %s line %q", what, excerpt(line))
		}
		lastFraming = false
		if trailers {
			continue
		}
		value = trimOWS(value)
		switch {
		case asciiEqualFold(name, "Content-Length"):
			lastFraming = true
			n, ok := parseContentLength(value)
			if !ok {
				return f, malformed("bad Content-Length %q", excerpt(value))
			}
			if f.contentLength >= 0 && f.contentLength != n {
				return f, malformed("conflicting Content-Length values %d and %d", f.contentLength, n)
			}
			f.contentLength = n
		case asciiEqualFold(name, "Transfer-Encoding"):
			lastFraming = true
			// Codings apply in order, across repeated fields too: the
			// last one named decides how the body is delimited.
			f.te = true
			f.chunked = asciiEqualFold(lastToken(value), "chunked")
		case asciiEqualFold(name, "Connection"):
			lastFraming = true
			for len(value) > 0 {
				var tok []byte
				tok, value, _ = bytes.Cut(value, []byte(","))
				tok = trimOWS(tok)
				switch {
				case asciiEqualFold(tok, "close"):
					f.close = true
				case asciiEqualFold(tok, "keep-alive"):
					f.keepAlive = true
				}
			}
		}
	}
}

// isFramingField reports whether name is a header field readFields
// interprets.
func isFramingField(name []byte) bool {
	return asciiEqualFold(name, "Content-Length") ||
		asciiEqualFold(name, "Transfer-Encoding") ||
		asciiEqualFold(name, "Connection")
}

// skipLine consumes the rest of a line that did not fit in the buffer.
func skipLine(br *bufio.Reader, budget *int) error {
	for {
		line, err := br.ReadSlice('\n')
		*budget -= len(line)
		if *budget < 0 {
			return malformed("header section longer than %d bytes", maxHeaderBytes)
		}
		switch err {
		case nil:
			return nil
		case bufio.ErrBufferFull:
		default:
			return fmt.Errorf("http1: read header: %w", unexpectedEOF(err))
		}
	}
}

// readChunked discards a chunked body and its trailers, returning the number
// of data bytes.
func readChunked(br *bufio.Reader, budget *int) (int64, error) {
	var n int64
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return n, malformed("chunk size line longer than %d bytes", len(line))
		}
		if err != nil {
			return n, fmt.Errorf("http1: read chunk size: %w", unexpectedEOF(err))
		}
		size, ok := parseChunkSize(trimEOL(line))
		if !ok {
			return n, malformed("bad chunk size line %q", excerpt(trimEOL(line)))
		}
		if size == 0 {
			_, err := readFields(br, budget, true)
			return n, err
		}
		m, err := discard(br, size)
		n += m
		if err != nil {
			return n, fmt.Errorf("http1: read chunk (%d of %d bytes): %w", m, size, err)
		}
		line, err = br.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			return n, fmt.Errorf("http1: read chunk end: %w", unexpectedEOF(err))
		}
		if err != nil || len(trimEOL(line)) != 0 {
			return n, malformed("chunk data longer than its size %d", size)
		}
	}
}

// discard consumes exactly n body bytes.
func discard(br *bufio.Reader, n int64) (int64, error) {
	var done int64
	for done < n {
		step := min(n-done, 1<<30)
		m, err := br.Discard(int(step))
		done += int64(m)
		if err != nil {
			return done, unexpectedEOF(err)
		}
	}
	return done, nil
}

// discardAll consumes a body that ends when the server closes the
// connection.
func discardAll(br *bufio.Reader) (int64, error) {
	var n int64
	for {
		m, err := br.Discard(readBufferSize)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("http1: read body: %w", err)
		}
	}
}

func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 { // 18 digits cannot overflow an int64
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseChunkSize parses "1*HEXDIG [BWS] [; extensions]".
func parseChunkSize(line []byte) (int64, bool) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = trimOWS(line)
	if len(line) == 0 || len(line) > 15 { // 15 hex digits cannot overflow an int64
		return 0, false
	}
	var n int64
	for _, c := range line {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | int64(d)
	}
	return n, true
}

// unexpectedEOF turns io.EOF into io.ErrUnexpectedEOF: the caller is in the
// middle of a response.
func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("http1: %w: %s", ErrMalformedResponse, fmt.Sprintf(format, args...))
}

// excerpt bounds what an error message quotes from server input.
func excerpt(b []byte) string {
	const max = 80
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

func trimEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
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

func lastToken(v []byte) []byte {
	if i := bytes.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return trimOWS(v)
}

// asciiEqualFold compares a field name or token with a known lower- or
// mixed-case ASCII string without allocating.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
