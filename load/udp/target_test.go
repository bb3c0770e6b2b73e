package udp_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/smp-project/smp/internal/race"
	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/load/udp"
	"github.com/smp-project/smp/target"
)

// startTarget starts smp target with a UDP echo and the HTTP listener that
// serves its counters.
func startTarget(t *testing.T, cfg target.Config) *target.Server {
	t.Helper()
	cfg.UDP, cfg.HTTP = "127.0.0.1:0", "127.0.0.1:0"
	srv, err := target.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// dropped reads how many datagrams the target dropped.
func dropped(t *testing.T, srv *target.Server) int64 {
	t.Helper()
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + srv.Addrs().HTTP + "/_smp/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var stats struct {
		UDPDropped int64 `json:"udp_dropped"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		t.Fatal(err)
	}
	return stats.UDPDropped
}

func TestTarget(t *testing.T) {
	srv := startTarget(t, target.Config{})
	d, err := udp.New(load.Options{URL: "udp://" + srv.Addrs().UDP}, udp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c, err := d.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 100 {
		out, err := c.Do(context.Background())
		if err != nil || out.Bytes != int64(8+len(udp.DefaultPayload)) {
			t.Fatalf("request %d: got %+v, %v", i, out, err)
		}
	}
}

func runEngine(t *testing.T, url string, rate float64, conns int, timeout, d time.Duration) load.Figures {
	t.Helper()
	return runEngineStreams(t, url, rate, conns, 1, timeout, d)
}

func runEngineStreams(t *testing.T, url string, rate float64, conns, streams int, timeout, d time.Duration) load.Figures {
	t.Helper()
	drv, err := udp.New(load.Options{URL: url, Timeout: timeout, Streams: streams}, udp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close()
	p, err := load.NewConstant(rate)
	if err != nil {
		t.Fatal(err)
	}
	res, err := load.Run(context.Background(), load.Config{
		Clients:  []load.Client{{Connections: conns, Streams: streams, Pacer: p, Endpoints: []load.Endpoint{{URL: url, Driver: drv}}}},
		Duration: d,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Total
}

// TestAccuracyUDPLoss: 5,000 requests through the engine to the target
// dropping 10% of datagrams; the losses counted are the target's drops.
func TestAccuracyUDPLoss(t *testing.T) {
	if race.Enabled {
		t.Skip("timing accuracy is not measurable under the race detector")
	}
	srv := startTarget(t, target.Config{UDPDrop: 0.1})
	// 50 ms per loss, about 500 losses: 25 worker-seconds over 2.5 s.
	f := runEngine(t, "udp://"+srv.Addrs().UDP, 2000, 50, 50*time.Millisecond, 2500*time.Millisecond)
	truth := float64(dropped(t, srv)) / float64(f.Requests)
	lost := f.ErrorReasons[load.ReasonLost]
	ratio := float64(lost) / float64(f.Requests)
	t.Logf("%d requests at %.1f/s, lost %d (%.4f); the target dropped %.4f", f.Requests, f.ActualQPS, lost, ratio, truth)
	if ratio < 0.08 || ratio > 0.12 || ratio-truth > 0.02 || truth-ratio > 0.02 {
		t.Errorf("loss ratio %.4f, want within 0.02 of the truth %.4f and within 0.08..0.12", ratio, truth)
	}
	if f.Requests < 4950 || f.Requests > 5050 || f.Errors != lost {
		t.Errorf("requests %d, errors %d (%v): want 5000 ± 1%%, and only losses", f.Requests, f.Errors, f.ErrorReasons)
	}
}

func TestAccuracyUDPRate(t *testing.T) {
	if race.Enabled {
		t.Skip("timing accuracy is not measurable under the race detector")
	}
	srv := startTarget(t, target.Config{})
	f := runEngine(t, "udp://"+srv.Addrs().UDP, 2000, 4, time.Second, 3*time.Second)
	if f.ActualQPS < 1980 || f.ActualQPS > 2020 {
		t.Errorf("actual qps %.1f, want 2000 ± 1%%", f.ActualQPS)
	}
	if f.Requests < 5940 || f.Requests > 6060 || f.Errors != 0 {
		t.Errorf("requests %d errors %d (%v), want 6000 ± 1%% and 0", f.Requests, f.Errors, f.ErrorReasons)
	}
	t.Logf("actual %.2f/s, %d requests, lateness p99 %v, p50 %v, p99 %v",
		f.ActualQPS, f.Requests, f.Lateness.Percentile(99), f.Latency.Percentile(50), f.Latency.Percentile(99))
}

func TestAccuracyUDPDelay(t *testing.T) {
	if race.Enabled {
		t.Skip("timing accuracy is not measurable under the race detector")
	}
	d, err := target.ParseDelay("5ms")
	if err != nil {
		t.Fatal(err)
	}
	srv := startTarget(t, target.Config{Defaults: target.Behavior{Delay: d}})
	f := runEngine(t, "udp://"+srv.Addrs().UDP, 500, 8, time.Second, 2*time.Second)
	if p50 := f.Latency.Percentile(50); p50 < 5*time.Millisecond || p50 > 6*time.Millisecond {
		t.Errorf("p50 %v, want 5 ms + at most 1 ms", p50)
	}
	if f.Errors != 0 {
		t.Errorf("%d errors: %v", f.Errors, f.ErrorReasons)
	}
	t.Logf("p50 %v, p99 %v", f.Latency.Percentile(50), f.Latency.Percentile(99))
}

// TestAccuracyUDPLossStreams is issue 10's case: 1% of datagrams lost at
// 1000/s with the default 1s timeout on 8 sockets. With a socket per
// worker the generator fell behind (a corrected p50 of 857 ms); with 16
// workers on each socket a loss holds one worker, not a socket, and the
// schedule is kept.
func TestAccuracyUDPLossStreams(t *testing.T) {
	if race.Enabled {
		t.Skip("timing accuracy is not measurable under the race detector")
	}
	// The case: 1% of datagrams dropped, 1,000/s over 8 sockets,
	// each with 32 datagrams in flight (smp run's default for UDP). A loss
	// holds one stream for the 1 s timeout; the shared dispatch sends the
	// next slots on the others.
	srv := startTarget(t, target.Config{UDPDrop: 0.01})
	f := runEngineStreams(t, "udp://"+srv.Addrs().UDP, 1000, 8, 32, time.Second, 5*time.Second)
	lost := f.ErrorReasons[load.ReasonLost]
	t.Logf("%d workers: %d requests at %.1f/s, %d lost; corrected p50 %v, p95 %v, p99 %v; lateness p50 %v; %d late sends",
		f.Workers, f.Requests, f.ActualQPS, lost, f.Latency.Percentile(50), f.Latency.Percentile(95), f.Latency.Percentile(99), f.Lateness.Percentile(50), f.LateSends)
	if p95 := f.Latency.Percentile(95); p95 > 2*time.Millisecond {
		t.Errorf("corrected p95 %v, want under 2 ms: the generator fell behind", p95)
	}
	if frac := float64(lost) / float64(f.Requests); frac < 0.005 || frac > 0.015 {
		t.Errorf("%d lost of %d (%.2f%%), want 0.5%% to 1.5%%", lost, f.Requests, 100*frac)
	}
	if f.Requests < 4950 || f.Requests > 5050 || f.Errors != lost {
		t.Errorf("requests %d, errors %d (%v): want 5000 ± 1%%, and only losses", f.Requests, f.Errors, f.ErrorReasons)
	}
}
