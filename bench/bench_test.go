//go:build unix

package bench

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/load/http1"
	"github.com/smp-project/smp/target"
)

func startTarget(b *testing.B) string {
	b.Helper()
	srv, err := target.Start(context.Background(), target.Config{HTTP: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	return "http://" + srv.Addrs().HTTP + "/"
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runOnce runs the engine for d against url.
func runOnce(b *testing.B, url string, pacer load.Pacer, conns int, d time.Duration) *load.Result {
	b.Helper()
	drv, err := http1.New(load.Options{URL: url})
	if err != nil {
		b.Fatal(err)
	}
	defer drv.Close()
	res, err := load.Run(context.Background(), load.Config{
		Clients:  []load.Client{{Connections: conns, Pacer: pacer, Endpoints: []load.Endpoint{{URL: url, Driver: drv}}}},
		Duration: d,
	})
	if err != nil {
		b.Fatal(err)
	}
	return res
}

// BenchmarkHTTP1ClosedLoop: 8 keep-alive connections as fast as they go,
// client and target in this process. One iteration is one 1 s run;
// req/s is the rate, cpu-µs/req the process's CPU (client and target
// together) per request.
func BenchmarkHTTP1ClosedLoop(b *testing.B) {
	url := startTarget(b)
	var reqs int64
	var cpu, wall time.Duration
	for b.Loop() {
		c0, t0 := cpuTime(), time.Now()
		res := runOnce(b, url, load.ClosedLoop(), 8, time.Second)
		cpu += cpuTime() - c0
		wall += time.Since(t0)
		reqs += res.Total.Requests
		if res.Total.Errors > 0 {
			b.Fatalf("%d errors", res.Total.Errors)
		}
	}
	b.ReportMetric(float64(reqs)/wall.Seconds(), "req/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(reqs), "cpu-µs/req")
}

// BenchmarkHTTP1OpenLoop20k: 20,000 requests/s for 1 s over 16 connections;
// reports the actual rate as a share of the requested one and the
// generator's lateness p99.
func BenchmarkHTTP1OpenLoop20k(b *testing.B) {
	url := startTarget(b)
	pacer, err := load.NewConstant(20000)
	if err != nil {
		b.Fatal(err)
	}
	var share, lateP99 float64
	n := 0
	for b.Loop() {
		res := runOnce(b, url, pacer, 16, time.Second)
		share += res.Total.ActualQPS / res.Total.RequestedQPS
		lateP99 += float64(res.Total.Lateness.Percentile(99).Microseconds())
		n++
	}
	b.ReportMetric(100*share/float64(n), "%-of-rate")
	b.ReportMetric(lateP99/float64(n), "lateness-p99-µs")
}
