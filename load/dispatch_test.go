package load_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/load/http1"
	"github.com/smp-project/smp/target"
)

// One answer in a thousand takes 500 ms. With a fixed slot per connection
// (each of 16 workers owning every 16th slot) each slow answer made the
// next ~60 slots of its worker late and p99 read ~430 ms; with the shared
// dispatch the other 15 connections take those slots and p99 stays at the
// fast answers' level, while p99.99 still shows the slow ones.
func TestAccuracySharedDispatch(t *testing.T) {
	skipUnderRace(t)
	_, url := startTarget(t, "100us:999,500ms:1")
	res := run(t, context.Background(), drivers[0].new, url, 2000, 16, 5*time.Second)
	f := res.Total
	p99, p9999 := f.Latency.Percentile(99), f.Latency.Percentile(99.99)
	if p99 >= 5*time.Millisecond {
		t.Errorf("corrected p99 %v, want under 5 ms", p99)
	}
	if p9999 <= 400*time.Millisecond {
		t.Errorf("corrected p99.99 %v, want over 400 ms (the slow answers)", p9999)
	}
	if f.Requests < 9900 || f.Errors != 0 {
		t.Errorf("requests %d errors %d", f.Requests, f.Errors)
	}
	t.Logf("p99 %v p99.99 %v, lateness p99 %v, saturation %+v", p99, p9999, f.Lateness.Percentile(99), f.Saturation)
}

// When every connection is busy, waiting slots are counted as connection
// saturation, apart from the generator's own lateness.
func TestAccuracySaturation(t *testing.T) {
	skipUnderRace(t)
	// 2 connections, 10 ms answers: at most 200/s; 400/s is asked.
	_, url := startTarget(t, "10ms")
	res := run(t, context.Background(), drivers[0].new, url, 400, 2, time.Second)
	f := res.Total
	if f.Saturation.Slots < f.Requests/3 || f.Saturation.Max < 100*time.Millisecond {
		t.Errorf("saturation %+v of %d requests, want most slots waiting", f.Saturation, f.Requests)
	}
	if l := f.Lateness.Percentile(50); l > time.Millisecond {
		t.Errorf("generator lateness p50 %v: waits for a connection must not count as lateness", l)
	}
	t.Logf("saturation %+v, lateness p99 %v", f.Saturation, f.Lateness.Percentile(99))
}

// Connections, TLS handshakes included, are opened before the clock: with
// 64 connections at 100/s the first requests do not pay the handshakes.
func TestAccuracyConnectionsBeforeTheClock(t *testing.T) {
	skipUnderRace(t)
	srv, err := target.Start(context.Background(), target.Config{HTTP: "127.0.0.1:0", TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	url := "https://" + srv.Addrs().HTTP + "/"
	p50 := func(conns int) (time.Duration, load.Figures) {
		drv, err := http1.New(load.Options{URL: url, InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer drv.Close()
		res, err := load.Run(context.Background(), load.Config{
			Clients:  []load.Client{{Connections: conns, Pacer: mustRate(t, 100), Endpoints: []load.Endpoint{{URL: url, Driver: drv}}}},
			Duration: time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		return res.Total.Latency.Percentile(50), res.Total
	}
	one, _ := p50(1)
	many, f := p50(64)
	if many > one*3/2+50*time.Microsecond {
		t.Errorf("p50 with 64 TLS connections %v, with one %v: want within 1.5×", many, one)
	}
	c := f.Connections
	if c.Opened < 64 || c.Failed != 0 || c.Setup.Count() != c.Opened || c.Setup.Percentile(50) <= 0 {
		t.Errorf("connections %+v (set-ups %d)", c, c.Setup.Count())
	}
	t.Logf("p50 one %v, 64 %v; set-up p50 %v", one, many, c.Setup.Percentile(50))
}

// A closed loop counts from its first send: its total equals what the
// target answered, less the one start probe.
func TestAccuracyClosedLoopCountsEveryRequest(t *testing.T) {
	skipUnderRace(t)
	srv, url := startTarget(t, "")
	drv, err := http1.New(load.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close()
	res, err := load.Run(context.Background(), load.Config{
		Clients:  []load.Client{{Connections: 4, Endpoints: []load.Endpoint{{URL: url, Driver: drv}}}},
		Duration: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	answered := srv.Stats().RequestsTotal
	if got := uint64(res.Total.Requests); got+1 != answered || res.Total.Errors != 0 {
		t.Errorf("counted %d requests (+1 probe), the target answered %d", got, answered)
	}
	t.Logf("%d requests, target answered %d", res.Total.Requests, answered)
}

// Stopping the run in a stall keeps what was measured, and the requests
// caught in the stall show it.
func TestAccuracyCancelInStall(t *testing.T) {
	skipUnderRace(t)
	srv, url := startTarget(t, "")
	ctx, cancel := context.WithCancelCause(context.Background())
	stall := time.AfterFunc(time.Second, func() { srv.Stall(10 * time.Second) })
	defer stall.Stop()
	stop := time.AfterFunc(1600*time.Millisecond, func() { cancel(errors.New("interrupt")) })
	defer stop.Stop()
	res := run(t, ctx, drivers[0].new, url, 1000, 16, 10*time.Second)
	f := res.Total
	if !res.Partial || !strings.Contains(res.PartialReason, "interrupt") {
		t.Errorf("partial %v %q", res.Partial, res.PartialReason)
	}
	if m := f.Latency.Max(); m < 500*time.Millisecond {
		t.Errorf("latency max %v: the 600 ms stall must show", m)
	}
	if n := f.ErrorReasons[load.ReasonCancelled]; n != 16 {
		t.Errorf("%d cancelled, want the 16 in flight", n)
	}
	if f.Unsent < 450 || f.Unsent > 700 {
		t.Errorf("unsent %d, want about 600 overdue", f.Unsent)
	}
	t.Logf("max %v, requests %d, unsent %d, %q", f.Latency.Max(), f.Requests, f.Unsent, res.PartialReason)
}

func mustRate(t *testing.T, r float64) load.Pacer {
	t.Helper()
	p, err := load.NewConstant(r)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Seen from the server, the open loop is even: at 2,000/s the target's
// median gap between arrivals is 500 µs (within 10%).
func TestAccuracyArrivalGapsEven(t *testing.T) {
	skipUnderRace(t)
	srv, url := startTarget(t, "")
	srv.ResetArrivalGaps()
	res := run(t, context.Background(), drivers[0].new, url, 2000, 16, 3*time.Second)
	g := srv.Stats().ArrivalGaps["http"]
	if g.P50 < 450 || g.P50 > 550 {
		t.Errorf("arrival gap p50 %.1f µs, want 500 µs ± 10%%", g.P50)
	}
	if want := res.Total.Requests; g.Count < want-1 {
		t.Errorf("%d gaps for %d requests", g.Count, want)
	}
	t.Logf("gaps p1 %.1f p50 %.1f p99 %.1f µs over %d", g.P1, g.P50, g.P99, g.Count)
}
