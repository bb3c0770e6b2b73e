//go:build unix

package tcp_test

import (
	"context"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/load/tcp"
	"github.com/smp-project/smp/target"
)

// BenchmarkDo is one Conn in a closed loop against an in-process target:
// the driver's cost per request (the target's included).
func BenchmarkDo(b *testing.B) {
	srv, err := target.Start(context.Background(), target.Config{TCP: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	d, err := tcp.New(load.Options{URL: "tcp://" + srv.Addrs().TCP}, tcp.Config{})
	if err != nil {
		b.Fatal(err)
	}
	c, err := d.Open(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Do(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientCPU compares the client's CPU cost per request of the
// engine with this driver against a bare Go write/read loop, both in a
// closed loop over the same number of connections to an echo server in
// another process (so that only the client's CPU is counted). It runs for
// a fixed time rather than b.N requests, so run it with -benchtime 1x;
// bench/tcp.sh does, and prints the ratio. Environment:
//
//	SMP_BENCH_TCP_ADDR  host:port of the echo server (required)
//	SMP_BENCH_CONNS     connections (default 4)
//	SMP_BENCH_SECONDS   length of each run (default 5)
func BenchmarkClientCPU(b *testing.B) {
	addr := os.Getenv("SMP_BENCH_TCP_ADDR")
	if addr == "" {
		b.Skip("set SMP_BENCH_TCP_ADDR to an echo server in another process (bench/tcp.sh does)")
	}
	conns, dur := benchEnv(b)
	b.Run("engine", func(b *testing.B) {
		url := "tcp://" + addr
		drv, err := tcp.New(load.Options{URL: url}, tcp.Config{})
		if err != nil {
			b.Fatal(err)
		}
		defer drv.Close()
		var res *load.Result
		cpu := cpuTime(b, func() {
			res, err = load.Run(context.Background(), load.Config{
				Clients:  []load.Client{{Connections: conns, Endpoints: []load.Endpoint{{URL: url, Driver: drv}}}},
				Duration: dur,
			})
		})
		if err != nil {
			b.Fatal(err)
		}
		if res.Total.Errors > 0 {
			b.Fatalf("%d errors: %v", res.Total.Errors, res.Total.ErrorReasons)
		}
		report(b, res.Total.Requests, cpu, res.Elapsed)
	})
	b.Run("bare", func(b *testing.B) {
		var n atomic.Int64
		start := time.Now()
		cpu := cpuTime(b, func() {
			var wg sync.WaitGroup
			for range conns {
				nc, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				defer nc.Close()
				wg.Go(func() {
					out, in := []byte(tcp.DefaultPayload), make([]byte, len(tcp.DefaultPayload))
					var count int64
					for end := time.Now().Add(dur); time.Now().Before(end); count++ {
						if _, err := nc.Write(out); err != nil {
							b.Error(err)
							return
						}
						if _, err := io.ReadFull(nc, in); err != nil {
							b.Error(err)
							return
						}
					}
					n.Add(count)
				})
			}
			wg.Wait()
		})
		report(b, n.Load(), cpu, time.Since(start))
	})
}

func benchEnv(b *testing.B) (conns int, dur time.Duration) {
	conns, secs := 4, 5.0
	if s := os.Getenv("SMP_BENCH_CONNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("SMP_BENCH_CONNS=%q: want a positive number", s)
		}
		conns = n
	}
	if s := os.Getenv("SMP_BENCH_SECONDS"); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f <= 0 || f > 600 {
			b.Fatalf("SMP_BENCH_SECONDS=%q: want a number of seconds up to 600", s)
		}
		secs = f
	}
	return conns, time.Duration(secs * float64(time.Second))
}

// cpuTime runs f and returns the process's CPU time (user + system) spent
// meanwhile.
func cpuTime(b *testing.B, f func()) time.Duration {
	b.Helper()
	before := rusage(b)
	f()
	return rusage(b) - before
}

func rusage(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func report(b *testing.B, requests int64, cpu, elapsed time.Duration) {
	b.ReportMetric(float64(requests)/cpu.Seconds(), "req/cpu-s")
	b.ReportMetric(float64(requests)/elapsed.Seconds(), "req/s")
	b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), "cpus")
}
