package grpc

import (
	"context"
	"testing"

	"golang.org/x/net/http2/hpack"

	"github.com/smp-project/smp/internal/race"
	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/load/internal/h2/h2test"
)

// cannedHealth starts an h2c server that answers every call with a health
// check's SERVING and status OK, allocating nothing per call itself.
func cannedHealth(tb testing.TB) string {
	return h2test.Canned(tb, h2test.Response{
		Fields: []hpack.HeaderField{{Name: ":status", Value: "200"}, {Name: "content-type", Value: "application/grpc"}},
		// One message, not compressed: HealthCheckResponse{status: SERVING}.
		Body:     []byte{0, 0, 0, 0, 2, 0x08, 0x01},
		Trailers: []hpack.HeaderField{{Name: "grpc-status", Value: "0"}},
	})
}

// TestUnaryDoesNotAllocate: in the steady state a unary call allocates
// nothing, alone on its connection or with others sharing it.
func TestUnaryDoesNotAllocate(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector allocates")
	}
	addr := cannedHealth(t)
	for _, streams := range []int{1, 8} {
		t.Run("", func(t *testing.T) {
			d := newDriver(t, load.Options{URL: "grpc://" + addr, Streams: streams}, Config{})
			conns := make([]load.Conn, streams)
			for i := range conns {
				conns[i] = openConn(t, d)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			call := func(c load.Conn) {
				if out, err := c.Do(ctx); err != nil || out != (load.Outcome{Bytes: 2}) {
					t.Errorf("%+v, %v", out, err)
				}
			}
			for range 100 { // the HPACK table and the buffers settle
				for _, c := range conns {
					call(c)
				}
			}
			// The other Conns call concurrently, each on a goroutine
			// started once: starting goroutines would allocate.
			start, done := make(chan struct{}), make(chan struct{})
			for _, c := range conns[1:] {
				go func() {
					for range start {
						call(c)
						done <- struct{}{}
					}
				}()
			}
			defer close(start)
			allocs := testing.AllocsPerRun(500, func() {
				for range conns[1:] {
					start <- struct{}{}
				}
				call(conns[0])
				for range conns[1:] {
					<-done
				}
			})
			if allocs != 0 {
				t.Errorf("%v allocations per %d calls", allocs, streams)
			}
		})
	}
}

// BenchmarkUnary is one Conn calling the canned server: the client's cost
// per call, and its allocations (none).
func BenchmarkUnary(b *testing.B) {
	addr := cannedHealth(b)
	ctx := context.Background()
	d, err := New(ctx, load.Options{URL: "grpc://" + addr}, Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	c, err := d.Open(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	for b.Loop() {
		if out, err := c.Do(ctx); err != nil || out.Failed {
			b.Fatal(out, err)
		}
	}
}
