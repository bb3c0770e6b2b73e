package tcp_test

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/smp-project/smp/internal/race"
	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/load/tcp"
	"github.com/smp-project/smp/target"
)

func startTarget(t *testing.T, cfg target.Config) string {
	t.Helper()
	return "tcp://" + startTargetServer(t, cfg).Addrs().TCP
}

func startTargetServer(t *testing.T, cfg target.Config) *target.Server {
	t.Helper()
	cfg.TCP = "127.0.0.1:0"
	srv, err := target.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// TestTarget runs requests against smp target's TCP echo, on persistent
// connections and on a connection per request.
func TestTarget(t *testing.T) {
	url := startTarget(t, target.Config{})
	cases := []struct {
		name string
		body string
		cfg  tcp.Config
	}{
		{name: "default payload"},
		{name: "given payload", body: "0123456789"},
		{name: "connection per request", cfg: tcp.Config{ConnectionPerRequest: true}},
		{name: "linger zero", cfg: tcp.Config{ConnectionPerRequest: true, LingerZero: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := tcp.New(load.Options{URL: url, Body: []byte(tc.body), Timeout: 10 * time.Second}, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			c, err := d.Open(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			want := int64(len(tc.body))
			if want == 0 {
				want = int64(len(tcp.DefaultPayload))
			}
			for i := range 100 {
				out, err := c.Do(context.Background())
				if err != nil || out.Bytes != want {
					t.Fatalf("request %d: got %+v, %v; want %d bytes", i, out, err, want)
				}
			}
		})
	}
}

// TestTargetResets: the target's injected errors are connection resets.
func TestTargetResets(t *testing.T) {
	url := startTarget(t, target.Config{Defaults: target.Behavior{ErrorRate: 1, Reset: true}})
	d, err := tcp.New(load.Options{URL: url, Timeout: 10 * time.Second}, tcp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	c, err := d.Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Do(context.Background())
	if !errors.Is(err, syscall.ECONNRESET) || load.Classify(err) != load.ReasonReset {
		t.Errorf("got %v (%s), want a reset", err, load.Classify(err))
	}
}

// TestTargetResetsCounted: the target resets 20% of TCP requests
// (`smp target --error reset:0.2`) and one Conn sends n requests in a row.
// Each reaches the target once — it counts n reads — and every reset it
// made is a Do error classified as a reset. On a persistent connection the
// Do after a reset reconnects and reports its connect time, and a Do on the
// connection kept reports none; with a connection per request every Do
// reports one.
func TestTargetResetsCounted(t *testing.T) {
	const n = 1000
	for _, perRequest := range []bool{false, true} {
		name := "persistent"
		if perRequest {
			name = "connection per request"
		}
		t.Run(name, func(t *testing.T) {
			var b target.Behavior
			if err := b.Set("error", "reset:0.2"); err != nil {
				t.Fatal(err)
			}
			srv := startTargetServer(t, target.Config{Defaults: b})
			d, err := tcp.New(load.Options{URL: "tcp://" + srv.Addrs().TCP, Timeout: 10 * time.Second},
				tcp.Config{ConnectionPerRequest: perRequest})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c, err := d.Open(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var ok, resets, connects uint64
			failed := false
			for i := range n {
				out, err := c.Do(ctx)
				if want := perRequest || failed; (out.Connect > 0) != want {
					t.Errorf("request %d: connect time %v, want one: %v", i, out.Connect, want)
				}
				if out.Connect > 0 {
					connects++
				}
				switch {
				case err == nil && out.Bytes == int64(len(tcp.DefaultPayload)):
					ok++
				case load.Classify(err) == load.ReasonReset:
					resets++
				default:
					t.Fatalf("request %d: %+v, %v (%q), want an echo or a reset", i, out, err, load.Classify(err))
				}
				failed = err != nil
			}
			st := srv.Stats()
			echoed, reset := st.Requests["tcp"]["ok"], st.Resets["tcp"]
			t.Logf("smp: %d ok, %d resets, %d connects; target: %d reads, %d echoed, %d resets",
				ok, resets, connects, echoed+reset, echoed, reset)
			if echoed+reset != n {
				t.Errorf("the target read %d requests, want %d", echoed+reset, n)
			}
			if resets != reset || ok != echoed {
				t.Errorf("smp counted %d resets and %d echoes; the target made %d and %d", resets, ok, reset, echoed)
			}
			if resets == 0 || resets == n {
				t.Errorf("%d resets of %d requests at a 20%% rate", resets, n)
			}
		})
	}
}

func runEngine(t *testing.T, url string, cfg tcp.Config, rate float64, conns int, d time.Duration) load.Figures {
	t.Helper()
	drv, err := tcp.New(load.Options{URL: url, Timeout: 10 * time.Second}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close()
	p, err := load.NewConstant(rate)
	if err != nil {
		t.Fatal(err)
	}
	res, err := load.Run(context.Background(), load.Config{
		Clients:  []load.Client{{Connections: conns, Pacer: p, Endpoints: []load.Endpoint{{URL: url, Driver: drv}}}},
		Duration: d,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res.Total
}

func TestAccuracyTCPRate(t *testing.T) {
	if race.Enabled {
		t.Skip("timing accuracy is not measurable under the race detector")
	}
	cases := []struct {
		name string
		cfg  tcp.Config
		rate float64
	}{
		{"persistent", tcp.Config{}, 2000},
		// Fewer: each request costs a connection, and the client's ports
		// must not run out.
		{"connection per request", tcp.Config{ConnectionPerRequest: true, LingerZero: true}, 500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := startTarget(t, target.Config{})
			f := runEngine(t, url, tc.cfg, tc.rate, 4, 3*time.Second)
			want := tc.rate * 3
			if f.ActualQPS < 0.99*tc.rate || f.ActualQPS > 1.01*tc.rate {
				t.Errorf("actual qps %.1f, want %.0f ± 1%%", f.ActualQPS, tc.rate)
			}
			if float64(f.Requests) < 0.99*want || float64(f.Requests) > 1.01*want || f.Errors != 0 {
				t.Errorf("requests %d errors %d (%v), want %.0f ± 1%% and 0", f.Requests, f.Errors, f.ErrorReasons, want)
			}
			t.Logf("actual %.2f/s, %d requests, lateness p99 %v, p50 %v, p99 %v",
				f.ActualQPS, f.Requests, f.Lateness.Percentile(99), f.Latency.Percentile(50), f.Latency.Percentile(99))
		})
	}
}

func TestAccuracyTCPDelay(t *testing.T) {
	if race.Enabled {
		t.Skip("timing accuracy is not measurable under the race detector")
	}
	d, err := target.ParseDelay("5ms")
	if err != nil {
		t.Fatal(err)
	}
	url := startTarget(t, target.Config{Defaults: target.Behavior{Delay: d}})
	f := runEngine(t, url, tcp.Config{}, 500, 8, 2*time.Second)
	if p50 := f.Latency.Percentile(50); p50 < 5*time.Millisecond || p50 > 6*time.Millisecond {
		t.Errorf("p50 %v, want 5 ms + at most 1 ms", p50)
	}
	if f.Errors != 0 {
		t.Errorf("%d errors: %v", f.Errors, f.ErrorReasons)
	}
	t.Logf("p50 %v, p99 %v", f.Latency.Percentile(50), f.Latency.Percentile(99))
}
