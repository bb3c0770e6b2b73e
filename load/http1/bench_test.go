package http1

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/smp-project/smp/load"
)

// benchResponse is what a typical small endpoint behind nginx returns.
const benchResponse = "HTTP/1.1 200 OK\r\nServer: nginx/1.27.0\r\nDate: Tue, 25 Nov 2026 00:00:00 GMT\r\n" +
	"Content-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\nHello, world!"

// BenchmarkHTTP1Do measures one keep-alive GET through this driver against
// a server that answers a canned response without allocating, so that
// allocs/op are the client's.
func BenchmarkHTTP1Do(b *testing.B) {
	addr := cannedServer(b, []byte(benchResponse))
	d, err := New(load.Options{URL: "http://" + addr + "/"})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	c, err := d.Open(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if out, err := c.Do(ctx); err != nil || out.Bytes != 13 {
			b.Fatalf("%+v, %v", out, err)
		}
	}
}

// BenchmarkHTTP1NetHTTP is the same exchange through net/http's Client, for
// comparison.
func BenchmarkHTTP1NetHTTP(b *testing.B) {
	addr := cannedServer(b, []byte(benchResponse))
	tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, resp.Body, buf)
		resp.Body.Close()
		if err != nil || n != 13 {
			b.Fatalf("%d bytes, %v", n, err)
		}
	}
}
