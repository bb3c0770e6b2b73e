package http2

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"testing"

	"github.com/smp-project/smp/load"
)

var benchBody = []byte("Hello, world!")

// BenchmarkHTTP2Do measures one GET at a time through this driver, h2c
// against a server on bare frames that answers a canned response and
// allocates nothing per request: allocs/op are the client's.
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

// BenchmarkHTTP2Streams is 16 Conns sharing a connection, each on its own
// goroutine, as the engine runs them: b.N requests in all.
func BenchmarkHTTP2Streams(b *testing.B) {
	const streams = 16
	addr := cannedH2Server(b, benchBody)
	d, err := New(load.Options{URL: "http://" + addr + "/", Streams: streams})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	conns := make(chan load.Conn, streams)
	for range streams {
		c, err := d.Open(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns <- c
	}
	b.ReportAllocs()
	// streams goroutines in all, whatever GOMAXPROCS is.
	b.SetParallelism(max(streams/runtime.GOMAXPROCS(0), 1))
	b.RunParallel(func(pb *testing.PB) {
		c := <-conns
		defer func() { conns <- c }()
		for pb.Next() {
			if out, err := c.Do(ctx); err != nil || out.Bytes != int64(len(benchBody)) {
				b.Errorf("%+v, %v", out, err)
				return
			}
		}
	})
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
