//go:build unix

package grpc_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/smp-project/smp/load"
	smpgrpc "github.com/smp-project/smp/load/grpc"
	"github.com/smp-project/smp/target"
)

// benchBody is the request of the benchmarks; bench/grpc.sh gives ghz the
// same.
const benchBody = `{"payload": "aGVsbG8="}`

// BenchmarkDo is one Conn calling Echo in a closed loop against an
// in-process target: the driver's cost per call (the target's included).
func BenchmarkDo(b *testing.B) {
	for _, method := range []string{"Echo", "Stream"} {
		b.Run(method, func(b *testing.B) {
			srv, err := target.Start(context.Background(), target.Config{GRPC: "127.0.0.1:0"})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			ctx := context.Background()
			d, err := smpgrpc.New(ctx, load.Options{URL: "grpc://" + srv.Addrs().GRPC + "/smp.target.v1.Echo/" + method, Body: []byte(benchBody)}, smpgrpc.Config{})
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
		})
	}
}

// BenchmarkClientCPU runs the engine with this driver in a closed loop,
// calling smp.target.v1.Echo/Echo on a target in another process, and
// reports calls per client CPU-second (the process's user + system time),
// so that bench/grpc.sh can set it against ghz on the same target. It runs
// for a fixed time rather than b.N calls: run it with -benchtime 1x.
// Environment:
//
//	SMP_BENCH_GRPC_ADDR  host:port of the target's gRPC listener (required)
//	SMP_BENCH_CONNS      connections (default 2)
//	SMP_BENCH_STREAMS    concurrent calls per connection (default 16)
//	SMP_BENCH_SECONDS    length of the run (default 5)
func BenchmarkClientCPU(b *testing.B) {
	addr := os.Getenv("SMP_BENCH_GRPC_ADDR")
	if addr == "" {
		b.Skip("set SMP_BENCH_GRPC_ADDR to a target in another process (bench/grpc.sh does)")
	}
	conns := envInt(b, "SMP_BENCH_CONNS", 2)
	streams := envInt(b, "SMP_BENCH_STREAMS", 16)
	secs := envInt(b, "SMP_BENCH_SECONDS", 5)
	url := "grpc://" + addr + "/smp.target.v1.Echo/Echo"
	ctx := context.Background()
	drv, err := smpgrpc.New(ctx, load.Options{URL: url, Body: []byte(benchBody), Streams: streams}, smpgrpc.Config{})
	if err != nil {
		b.Fatal(err)
	}
	defer drv.Close()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	before := rusage(b)
	res, err := load.Run(ctx, load.Config{
		Clients:  []load.Client{{Connections: conns, Streams: streams, Endpoints: []load.Endpoint{{URL: url, Driver: drv}}}},
		Duration: time.Duration(secs) * time.Second,
	})
	cpu := rusage(b) - before
	runtime.ReadMemStats(&m1)
	if err != nil {
		b.Fatal(err)
	}
	f := res.Total
	if f.Errors > 0 {
		b.Fatalf("%d errors: %v %v", f.Errors, f.ErrorReasons, f.Failures)
	}
	b.ReportMetric(float64(f.Requests)/cpu.Seconds(), "calls/cpu-s")
	b.ReportMetric(f.ActualQPS, "calls/s")
	b.ReportMetric(cpu.Seconds()/res.Elapsed.Seconds(), "cpus")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(f.Requests), "allocs/call")
}

func envInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 10_000 {
		b.Fatalf("%s=%q: want a number from 1 to 10000", name, s)
	}
	return n
}

func rusage(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
