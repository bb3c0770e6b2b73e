package http1

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/smp-project/smp/load"
)

// TestDoDoesNotAllocate proves the hot-path claim: once connected, Do
// allocates nothing, whatever the body framing. The server is the canned
// raw one, which allocates nothing either, since AllocsPerRun counts the
// whole process.
func TestDoDoesNotAllocate(t *testing.T) {
	chunked := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5\r\nhello\r\n1000\r\n" + strings.Repeat("c", 0x1000) + "\r\n0\r\nX-T: 1\r\n\r\n"
	cases := []struct {
		name     string
		response string
		opts     load.Options
		bytes    int64
	}{
		{name: "content-length", response: okResponse, bytes: 2},
		{name: "large content-length", response: "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + strings.Repeat("b", 100000), bytes: 100000},
		{name: "chunked with trailers", response: chunked, bytes: 5 + 0x1000},
		{name: "interim then 204", response: "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"},
		{name: "headers and cookies", response: okResponse, bytes: 2, opts: load.Options{
			Headers: map[string]string{"X-A": "1", "Accept": "*/*"}, Cookies: map[string]string{"s": "1"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.URL = "http://" + cannedServer(t, []byte(tc.response)) + "/"
			c := openConn(t, newDriver(t, opts))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var failed error
			allocs := testing.AllocsPerRun(500, func() {
				out, err := c.Do(ctx)
				if err != nil || out.Bytes != tc.bytes {
					failed = err
					if failed == nil {
						t.Errorf("got %+v, want %d bytes", out, tc.bytes)
					}
				}
			})
			if failed != nil {
				t.Fatal(failed)
			}
			if allocs != 0 {
				t.Errorf("Do allocated %v times per request, want 0", allocs)
			}
		})
	}
}

// TestDoAllocationsTLS guards the TLS path. Do adds nothing of its own, but
// crypto/tls allocates once per record it reads (the atLeastReader in
// Conn.readFromUntil escapes), on the client and on this in-process server
// alike: two per exchange, none of which this package can avoid.
func TestDoAllocationsTLS(t *testing.T) {
	if raceEnabled {
		t.Skip("crypto/tls allocates more under the race detector; the plain TCP test still runs")
	}
	srv := httptest.NewUnstartedServer(nil) // only for its test certificate
	srv.StartTLS()
	cfg := srv.TLS.Clone()
	srv.Close()
	addr := cannedTLSServer(t, []byte(okResponse), cfg)
	c := openConn(t, newDriver(t, load.Options{URL: "https://" + addr + "/", InsecureSkipVerify: true}))
	allocs := testing.AllocsPerRun(500, func() {
		if out, err := c.Do(context.Background()); err != nil || out.Bytes != 2 {
			t.Fatalf("%+v, %v", out, err)
		}
	})
	if allocs > 2 {
		t.Errorf("a TLS exchange allocated %v times, want at most 2 (one per record read by crypto/tls on each side)", allocs)
	}
}
