package target

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// readBody reads the request body. With keep, it appends the body to dst
// (at most limit bytes, else errBodyTooLarge) and returns it; without, it
// discards the body whatever its size. A chunked body kept takes its bytes
// from budget (nil: none) chunk by chunk, errOverBudget when spent, and
// gives them back on any error.
func readBody(br *bufio.Reader, r *request, keep bool, dst []byte, limit int, budget *byteBudget) ([]byte, error) {
	if r.chunked {
		start := len(dst)
		dst, err := readChunked(br, keep, dst, limit, budget)
		if err != nil {
			budget.give(int64(len(dst) - start))
		}
		return dst, err
	}
	n := r.contentLength
	if n <= 0 {
		return dst, nil
	}
	if !keep {
		if _, err := br.Discard(int(n)); err != nil {
			return dst, unexpected(err)
		}
		return dst, nil
	}
	if n > int64(limit-len(dst)) {
		return dst, errBodyTooLarge
	}
	start := len(dst)
	dst = growTo(dst, start+int(n))
	if _, err := io.ReadFull(br, dst[start:]); err != nil {
		return dst[:start], unexpected(err)
	}
	return dst, nil
}

// maxChunkLine bounds a chunk-size line with its extensions.
const maxChunkLine = 4 << 10

func readChunked(br *bufio.Reader, keep bool, dst []byte, limit int, budget *byteBudget) ([]byte, error) {
	for {
		line, err := readLine(br)
		if err != nil {
			return dst, chunkErr(err)
		}
		if len(line) > maxChunkLine {
			return dst, errBadChunk
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i] // chunk extensions are ignored
		}
		size, ok := parseHex(trimOWS(line))
		if !ok {
			return dst, errBadChunk
		}
		if size == 0 {
			break
		}
		if keep {
			if size > int64(limit-len(dst)) {
				return dst, errBodyTooLarge
			}
			if !budget.take(size) {
				return dst, errOverBudget
			}
			start := len(dst)
			dst = growTo(dst, start+int(size))
			if _, err := io.ReadFull(br, dst[start:]); err != nil {
				budget.give(size)
				return dst[:start], unexpected(err)
			}
		} else if _, err := br.Discard(int(size)); err != nil {
			return dst, unexpected(err)
		}
		if line, err := readLine(br); err != nil {
			return dst, chunkErr(err)
		} else if len(line) != 0 {
			return dst, errBadChunk
		}
	}
	// Trailer fields are read and ignored, within the header limits.
	total := 0
	for i := 0; ; i++ {
		line, err := readLine(br)
		if err != nil {
			return dst, chunkErr(err)
		}
		if len(line) == 0 {
			return dst, nil
		}
		total += len(line)
		if i >= maxHeaders || total > maxHeaderBytes {
			return dst, errTooLarge
		}
	}
}

func chunkErr(err error) error {
	if errors.Is(err, errLineTooLong) {
		return errBadChunk
	}
	return unexpected(err)
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseHex reads a chunk size: 1*HEXDIG, at most 15 digits (no overflow,
// and larger than any body this server will read anyway).
func parseHex(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range v {
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

func growTo(b []byte, n int) []byte {
	if n <= cap(b) {
		return b[:n]
	}
	nb := make([]byte, n, max(n, 2*cap(b)))
	copy(nb, b)
	return nb
}
