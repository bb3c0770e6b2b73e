package target

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func parseOne(t *testing.T, raw string) (*request, []byte, error) {
	t.Helper()
	br := bufio.NewReaderSize(strings.NewReader(raw), readBufSize)
	var r request
	if err := readRequest(br, &r); err != nil {
		return &r, nil, err
	}
	body, err := readBody(br, &r, true, nil, 1<<20, nil)
	return &r, body, err
}

func TestReadRequest(t *testing.T) {
	tests := []struct {
		name, raw          string
		method, target     string
		body               string
		close, chunked, ka bool
		smp                bool
	}{
		{name: "minimal", raw: "GET / HTTP/1.1\r\nHost: x\r\n\r\n", method: "GET", target: "/"},
		{name: "bare LF", raw: "GET /a?b=c HTTP/1.1\nHost: x\n\n", method: "GET", target: "/a?b=c"},
		{name: "leading empty line", raw: "\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", method: "GET", target: "/"},
		{name: "content-length", raw: "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", method: "POST", target: "/p", body: "hello"},
		{name: "same content-length twice", raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nhi", method: "POST", target: "/", body: "hi"},
		{name: "chunked", raw: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n", method: "POST", target: "/", body: "hello world", chunked: true},
		{name: "connection close", raw: "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", method: "GET", target: "/", close: true},
		{name: "http/1.0", raw: "GET / HTTP/1.0\r\n\r\n", method: "GET", target: "/", close: true},
		{name: "http/1.0 keep-alive", raw: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", method: "GET", target: "/", ka: true},
		{name: "x-smp header", raw: "GET / HTTP/1.1\r\nHost: x\r\nX-Smp-Delay: 1ms\r\n\r\n", method: "GET", target: "/", smp: true},
		{name: "OWS trimmed", raw: "GET / HTTP/1.1\r\nHost: x\r\nContent-Length:\t 3 \r\n\r\nabc", method: "GET", target: "/", body: "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, body, err := parseOne(t, tt.raw)
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if got := string(r.bytes(r.method)); got != tt.method {
				t.Errorf("method %q, want %q", got, tt.method)
			}
			if got := string(r.bytes(r.target)); got != tt.target {
				t.Errorf("target %q, want %q", got, tt.target)
			}
			if string(body) != tt.body {
				t.Errorf("body %q, want %q", body, tt.body)
			}
			if r.close != tt.close || r.chunked != tt.chunked || r.keepAlive10 != tt.ka || r.hasSMP != tt.smp {
				t.Errorf("close %v chunked %v keepAlive10 %v hasSMP %v", r.close, r.chunked, r.keepAlive10, r.hasSMP)
			}
		})
	}
}

func TestReadRequestErrors(t *testing.T) {
	long := strings.Repeat("a", readBufSize)
	tests := []struct {
		name, raw string
		status    int // 0: a connection error, not an answer
	}{
		{"garbage", "hello\r\n\r\n", 400},
		{"no version", "GET /\r\n\r\n", 400},
		{"bad method", "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"space in target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"http/3", "GET / HTTP/3.0\r\n\r\n", 505},
		{"PRI without *", "PRI / HTTP/2.0\r\n\r\n", 400},
		{"folded header", "GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n c\r\n\r\n", 400},
		{"no colon", "GET / HTTP/1.1\r\nHost: x\r\nAb\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost: x\r\nA : b\r\n\r\n", 400},
		{"CR in value", "GET / HTTP/1.1\r\nHost: x\r\nA: b\rc\r\n\r\n", 400},
		{"bad content-length", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400},
		{"huge content-length", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
		{"conflicting content-length", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
		{"CL and TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"gzip TE", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
		{"chunked in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"bad chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
		{"chunk without CRLF", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", 400},
		{"long line", "GET /" + long + " HTTP/1.1\r\nHost: x\r\n\r\n", 431},
		{"too many headers", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("A: b\r\n", maxHeaders+1) + "\r\n", 431},
		{"body too large to keep", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", 413},
		{"truncated head", "GET / HTTP/1.1\r\nHost: x", 0},
		{"truncated body", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", 0},
		{"no host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"empty host is still a host", "GET / HTTP/1.1\r\nHost:\r\nHost: y\r\n\r\n", 400},
		{"http/1.0 chunked", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"many empty lines", "\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseOne(t, tt.raw)
			if err == nil {
				t.Fatal("no error")
			}
			var he *httpError
			switch {
			case tt.status == 0 && errors.As(err, &he):
				t.Errorf("got answer %d (%v), want a connection error", he.status, err)
			case tt.status == 0 && !errors.Is(err, io.ErrUnexpectedEOF):
				t.Errorf("got %v, want unexpected EOF", err)
			case tt.status != 0 && !errors.As(err, &he):
				t.Errorf("got %v, want status %d", err, tt.status)
			case tt.status != 0 && he.status != tt.status:
				t.Errorf("got status %d (%v), want %d", he.status, err, tt.status)
			}
		})
	}
}

func TestReadRequestCleanEOF(t *testing.T) {
	br := bufio.NewReader(strings.NewReader(""))
	var r request
	if err := readRequest(br, &r); err != io.EOF {
		t.Errorf("empty stream: %v, want io.EOF", err)
	}
}

func TestReadRequestPipelined(t *testing.T) {
	raw := strings.Repeat("GET /x HTTP/1.1\r\nHost: a\r\n\r\nPOST /y HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nz", 3)
	br := bufio.NewReaderSize(strings.NewReader(raw), readBufSize)
	var r request
	var targets []string
	for {
		if err := readRequest(br, &r); err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break
		}
		if _, err := readBody(br, &r, false, nil, 0, nil); err != nil {
			t.Fatal(err)
		}
		targets = append(targets, string(r.bytes(r.target)))
	}
	if got := strings.Join(targets, " "); got != "/x /y /x /y /x /y" {
		t.Errorf("targets %q", got)
	}
}

func TestReadRequestNoAllocs(t *testing.T) {
	raw := []byte("GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n")
	rd := bytes.NewReader(raw)
	br := bufio.NewReaderSize(rd, readBufSize)
	var r request
	allocs := testing.AllocsPerRun(100, func() {
		rd.Reset(raw)
		br.Reset(rd)
		if err := readRequest(br, &r); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Errorf("readRequest allocates %v times per request", allocs)
	}
}

// FuzzReadRequest feeds arbitrary bytes to the HTTP/1.1 parser: it must
// never panic, and whatever it accepts must be self-consistent.
func FuzzReadRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /?delay=1ms HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nX-Smp-Size: 10\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		compareNetHTTP(t, data)
		br := bufio.NewReaderSize(bytes.NewReader(data), readBufSize)
		var r request
		for range 64 {
			if err := readRequest(br, &r); err != nil {
				return
			}
			for _, s := range append([]span{r.method, r.target, r.host, r.settings}, fieldSpans(r.fields)...) {
				if s.start < 0 || s.start > s.end || s.end > len(r.buf) {
					t.Fatalf("span %v outside buffer of %d", s, len(r.buf))
				}
			}
			if len(r.bytes(r.method)) == 0 || len(r.bytes(r.target)) == 0 {
				t.Fatal("accepted an empty method or target")
			}
			if r.chunked && r.contentLength >= 0 {
				t.Fatal("accepted both chunked and Content-Length")
			}
			if !r.h2preface && (r.nhost > 1 || (r.minor == 1 && r.nhost != 1)) {
				t.Fatalf("accepted an HTTP/1.%d request with %d Host fields", r.minor, r.nhost)
			}
			if r.minor == 0 && r.chunked {
				t.Fatal("accepted a chunked HTTP/1.0 request")
			}
			body, err := readBody(br, &r, true, nil, 1<<16, nil)
			if err != nil {
				return
			}
			if !r.chunked && r.contentLength >= 0 && int64(len(body)) != r.contentLength {
				t.Fatalf("body of %d bytes, Content-Length %d", len(body), r.contentLength)
			}
		}
	})
}

func fieldSpans(fs []field) []span {
	var out []span
	for _, f := range fs {
		out = append(out, f.name, f.value)
	}
	return out
}

// compareNetHTTP checks the first request of data against net/http's
// reading of it: where both accept a request and its body, they agree on
// the body's length, so that a proxy in front of the target built on Go
// frames the same bytes as the target does.
func compareNetHTTP(t *testing.T, data []byte) {
	var r request
	br := bufio.NewReaderSize(bytes.NewReader(data), readBufSize)
	if readRequest(br, &r) != nil || r.h2preface {
		return
	}
	body, err := readBody(br, &r, true, nil, 1<<16, nil)
	if err != nil {
		return
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		return
	}
	theirs, err := io.ReadAll(io.LimitReader(req.Body, 1<<16+1))
	if err != nil {
		return
	}
	if len(theirs) != len(body) {
		t.Fatalf("body of %d bytes; net/http reads %d", len(body), len(theirs))
	}
}
