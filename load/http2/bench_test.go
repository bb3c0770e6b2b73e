package http2

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/smp-project/smp/load"
)

var benchBody = []byte("Hello, world!")

// BenchmarkHTTP2Do measures one GET at a time through this driver, h2c
// against a framer-based server that answers a canned response. allocs/op
// include the server's few (one frame struct per request read).
func BenchmarkHTTP2Do(b *testing.B) {
	addr := cannedH2Server(b, benchBody)
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
		if out, err := c.Do(ctx); err != nil || out.Bytes != int64(len(benchBody)) {
			b.Fatalf("%+v, %v", out, err)
		}
	}
}

// BenchmarkHTTP2NetHTTP is the same exchange through net/http's Client
// speaking h2c, for comparison.
func BenchmarkHTTP2NetHTTP(b *testing.B) {
	addr := cannedH2Server(b, benchBody)
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &protos, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 16<<10)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, resp.Body, buf)
		resp.Body.Close()
		if err != nil || n != int64(len(benchBody)) || resp.ProtoMajor != 2 {
			b.Fatalf("%s, %d bytes, %v", resp.Proto, n, err)
		}
	}
}
