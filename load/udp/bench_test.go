package udp

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/target"
)

// BenchmarkDo: one Conn, one request at a time, against the target's echo.
func BenchmarkDo(b *testing.B) {
	srv := startEcho(b, target.Config{})
	c := openConn(b, newDriver(b, load.Options{URL: "udp://" + srv.Addrs().UDP}, Config{}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Do(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDoParallel: 4×GOMAXPROCS Conns sending at once, each on a
// socket of its own (streams=1) or all on one socket.
func BenchmarkDoParallel(b *testing.B) {
	const parallelism = 4
	conns := parallelism * runtime.GOMAXPROCS(0)
	for _, streams := range []int{1, conns} {
		b.Run(fmt.Sprintf("streams=%d", streams), func(b *testing.B) {
			srv := startEcho(b, target.Config{})
			d := newDriver(b, load.Options{URL: "udp://" + srv.Addrs().UDP, Streams: streams}, Config{})
			cs := openConns(b, d, conns)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var next atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(parallelism)
			b.RunParallel(func(pb *testing.PB) {
				c := cs[next.Add(1)-1]
				for pb.Next() {
					if _, err := c.Do(ctx); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
