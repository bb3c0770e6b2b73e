package http1

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// FuzzReadResponse feeds arbitrary server output to the parser: it must
// never panic or report more body than it was given, and where net/http
// reads a final response from the same bytes the two agree on it.
func FuzzReadResponse(f *testing.F) {
	seeds := []string{
		okResponse,
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n",
		"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + okResponse,
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\nX: a\n b\nContent-Length: 1\n\nx",
		"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nboom",
	}
	for _, s := range seeds {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(okResponse), true)
	f.Fuzz(func(t *testing.T, data []byte, head bool) {
		// A tiny buffer exercises the long-line paths.
		for _, size := range []int{16, readBufferSize} {
			res, err := readResponse(bufio.NewReaderSize(bytes.NewReader(data), size), head)
			if res.received != (len(data) > 0) {
				t.Fatalf("received = %v for %d bytes of input", res.received, len(data))
			}
			if err != nil {
				continue
			}
			if res.code < 200 || res.code > 999 {
				t.Fatalf("final status %d", res.code)
			}
			if res.bytes > int64(len(data)) {
				t.Fatalf("%d body bytes from %d bytes of input", res.bytes, len(data))
			}
		}

		res, err := readResponse(bufio.NewReader(bytes.NewReader(data)), head)
		if err != nil {
			return
		}
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(data)), &http.Request{Method: method})
		if err != nil || resp.StatusCode < 200 {
			return // net/http is stricter in places, and stops at a 1xx
		}
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil {
			return
		}
		if res.faulty && resp.ContentLength >= 0 {
			// net/http ignores Transfer-Encoding in HTTP/1.0 and trusts
			// Content-Length; RFC 9112 §6.1 says the framing is faulty,
			// so we read to the end of the connection instead.
			if res.bytes < n || !res.close {
				t.Fatalf("HTTP/1.0 with Transfer-Encoding: read %d body bytes (net/http %d), close %v", res.bytes, n, res.close)
			}
			return
		}
		if resp.StatusCode != res.code || n != res.bytes {
			t.Fatalf("net/http read status %d with %d body bytes, we read %d with %d",
				resp.StatusCode, n, res.code, res.bytes)
		}
	})
}

func TestParseChunkSize(t *testing.T) {
	cases := map[string]int64{
		"0": 0, "a": 10, "A": 10, "1f": 31, "10;ext=1": 16, "10 ;ext": 16, "fffffffffffffff": 0xfffffffffffffff,
		"": -1, "g": -1, "-1": -1, "0x10": -1, "1 0": -1, "ffffffffffffffff": -1,
	}
	for in, want := range cases {
		got, ok := parseChunkSize([]byte(in))
		if !ok {
			got = -1
		}
		if got != want {
			t.Errorf("parseChunkSize(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestParseContentLength(t *testing.T) {
	cases := map[string]int64{
		"0": 0, "42": 42, "000123": 123, strings.Repeat("9", 18): 999999999999999999,
		"": -1, "-1": -1, "+1": -1, "1.0": -1, "1 2": -1, strings.Repeat("9", 19): -1,
	}
	for in, want := range cases {
		got, ok := parseContentLength([]byte(in))
		if !ok {
			got = -1
		}
		if got != want {
			t.Errorf("parseContentLength(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestReadResponseHTTP10TransferEncoding is the faulty framing of RFC 9112
// §6.1: an HTTP/1.0 response cannot be chunked, so its body runs to the
// close whatever Transfer-Encoding and Content-Length say.
func TestReadResponseHTTP10TransferEncoding(t *testing.T) {
	for _, tc := range []struct {
		in   string
		body int64
	}{
		{"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 5},
		{"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 13},
		{"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\nabc", 3},
	} {
		res, err := readResponse(bufio.NewReader(strings.NewReader(tc.in)), false)
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if res.bytes != tc.body || !res.close || !res.faulty {
			t.Errorf("%q: %d body bytes, close %v, faulty %v; want %d, true, true", tc.in, res.bytes, res.close, res.faulty, tc.body)
		}
	}
}
