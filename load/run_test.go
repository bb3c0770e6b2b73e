package load

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunOpenLoopCountsEverySlot(t *testing.T) {
	s := newServer(t)
	res, err := Run(context.Background(), Config{
		Clients: []Client{{Name: "c", Connections: 4, Pacer: mustConstant(t, 500),
			Endpoints: []Endpoint{{URL: s.URL, Driver: newTestDriver(t, s.URL)}}}},
		Duration: time.Second, Warmup: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	f := res.Total
	if f.Scheduled != 500 || f.Requests != 500 || f.OK != 500 || f.Errors != 0 || f.Unsent != 0 {
		t.Fatalf("scheduled %d requests %d ok %d errors %d unsent %d, want 500 500 500 0 0", f.Scheduled, f.Requests, f.OK, f.Errors, f.Unsent)
	}
	// The warm-up's 100 requests and the probe's one were sent but not counted.
	if got := s.hits.Load(); got != 601 {
		t.Errorf("server saw %d requests, want 601", got)
	}
	if f.Latency.Count() != 500 || f.Uncorrected.Count() != 500 || f.Lateness.Count() != 500 {
		t.Errorf("histogram counts %d %d %d, want 500 each", f.Latency.Count(), f.Uncorrected.Count(), f.Lateness.Count())
	}
	if f.Codes[200] != 500 || f.Bytes != 1000 {
		t.Errorf("codes %v bytes %d", f.Codes, f.Bytes)
	}
	within(t, "requested qps", f.RequestedQPS, 500, 1e-9)
	within(t, "actual qps", f.ActualQPS, 500, 10)
	if !f.OpenLoop || f.Workers != 4 || res.Partial {
		t.Errorf("open %v workers %d partial %v", f.OpenLoop, f.Workers, res.Partial)
	}
	if res.Elapsed < time.Second || res.End.Sub(res.Start) != res.Elapsed {
		t.Errorf("elapsed %v, start %v, end %v", res.Elapsed, res.Start, res.End)
	}
	if len(res.Clients) != 1 || res.Clients[0].Name != "c" || res.Clients[0].Requests != 500 {
		t.Errorf("clients %+v", res.Clients)
	}
	// Corrected latency is never below the uncorrected one.
	if f.Latency.Min() < f.Uncorrected.Min() || f.Latency.Max() < f.Uncorrected.Max() {
		t.Errorf("corrected min/max %v/%v below uncorrected %v/%v", f.Latency.Min(), f.Latency.Max(), f.Uncorrected.Min(), f.Uncorrected.Max())
	}
}

func TestRunClosedLoop(t *testing.T) {
	s := newServer(t)
	res, err := Run(context.Background(), Config{
		Clients:  []Client{{Connections: 2, Endpoints: []Endpoint{{URL: s.URL, Driver: newTestDriver(t, s.URL)}}}},
		Duration: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	f := res.Total
	if f.Requests < 10 || f.OpenLoop || f.RequestedQPS != 0 || f.Scheduled != 0 {
		t.Fatalf("requests %d open %v requested %v scheduled %d", f.Requests, f.OpenLoop, f.RequestedQPS, f.Scheduled)
	}
	if f.Lateness.Count() != 0 {
		t.Errorf("closed loop recorded %d lateness values", f.Lateness.Count())
	}
	if !f.Latency.Equal(f.Uncorrected) {
		t.Error("closed loop: corrected and uncorrected latency differ")
	}
	if f.Pacer != "closed loop" {
		t.Errorf("pacer %q", f.Pacer)
	}
}

func TestRunRoundRobinEndpoints(t *testing.T) {
	a, b := newServer(t), newServer(t)
	res, err := Run(context.Background(), Config{
		Clients: []Client{{Connections: 3, Pacer: mustConstant(t, 300), Endpoints: []Endpoint{
			{URL: a.URL, Driver: newTestDriver(t, a.URL)}, {URL: b.URL, Driver: newTestDriver(t, b.URL)}}}},
		Duration: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total.Requests != 150 {
		t.Fatalf("requests %d, want 150", res.Total.Requests)
	}
	// 150 requests plus one probe each; 3 workers × 2 endpoints rotate, so
	// the split is even within a request per worker.
	ha, hb := a.hits.Load(), b.hits.Load()
	if ha+hb != 152 || ha-hb > 3 || hb-ha > 3 {
		t.Errorf("hits %d and %d, want about 76 each", ha, hb)
	}
	if got := res.Total.Endpoints; len(got) != 2 || got[0] != a.URL || got[1] != b.URL {
		t.Errorf("endpoints %v", got)
	}
}

func TestRunSeveralClients(t *testing.T) {
	a, b := newServer(t), newServer(t)
	res, err := Run(context.Background(), Config{
		Clients: []Client{
			{Name: "slow", Connections: 1, Pacer: mustConstant(t, 100), Endpoints: []Endpoint{{URL: a.URL, Driver: newTestDriver(t, a.URL)}}},
			{Name: "fast", Connections: 2, Pacer: mustConstant(t, 300), Endpoints: []Endpoint{{URL: b.URL, Driver: newTestDriver(t, b.URL)}}},
		},
		Duration: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Clients) != 2 {
		t.Fatalf("%d client results", len(res.Clients))
	}
	slow, fast, tot := res.Clients[0], res.Clients[1], res.Total
	if slow.Name != "slow" || slow.Requests != 50 || fast.Name != "fast" || fast.Requests != 150 {
		t.Errorf("slow %s %d, fast %s %d", slow.Name, slow.Requests, fast.Name, fast.Requests)
	}
	if tot.Requests != 200 || tot.Latency.Count() != 200 || tot.Workers != 3 {
		t.Errorf("total requests %d latency count %d workers %d", tot.Requests, tot.Latency.Count(), tot.Workers)
	}
	within(t, "total requested qps", tot.RequestedQPS, 400, 1e-9)
	var sum int64
	for _, iv := range tot.Intervals {
		sum += iv.Requests
	}
	if sum != 200 {
		t.Errorf("total intervals hold %d requests, want 200", sum)
	}
}

func TestRunErrors(t *testing.T) {
	failing := newServer(t)
	failing.code.Store(503)
	ok := newServer(t)
	refused := refusedURL(t)
	res, err := Run(context.Background(), Config{
		Clients: []Client{
			{Name: "failing", Connections: 1, Pacer: mustConstant(t, 100), Endpoints: []Endpoint{{URL: failing.URL, Driver: newTestDriver(t, failing.URL)}}},
			// One endpoint of two refuses: the run goes on and counts it.
			{Name: "half", Connections: 2, Pacer: mustConstant(t, 100), Endpoints: []Endpoint{
				{URL: ok.URL, Driver: newTestDriver(t, ok.URL)}, {URL: refused, Driver: newTestDriver(t, refused)}}},
		},
		Duration: 400 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	f := res.Clients[0]
	if f.Requests != 40 || f.Errors != 40 || f.OK != 0 || f.Failures[503] != 40 || f.Codes[503] != 40 || len(f.ErrorReasons) != 0 {
		t.Errorf("failing: requests %d errors %d ok %d failures %v codes %v reasons %v", f.Requests, f.Errors, f.OK, f.Failures, f.Codes, f.ErrorReasons)
	}
	// Latency describes successful answers: failed responses and transport
	// errors are timed in the error histogram only.
	if f.Latency.Count() != 0 || f.Uncorrected.Count() != 0 || f.ErrorLatency.Count() != 40 {
		t.Errorf("failing: %d latencies, %d uncorrected, %d error latencies; want 0, 0, 40", f.Latency.Count(), f.Uncorrected.Count(), f.ErrorLatency.Count())
	}
	h := res.Clients[1]
	if h.Requests != 40 || h.OK != 20 || h.ErrorReasons[ReasonConnectRefused] != 20 || h.Errors != 20 || h.Latency.Count() != 20 {
		t.Errorf("half: requests %d ok %d errors %d reasons %v latencies %d", h.Requests, h.OK, h.Errors, h.ErrorReasons, h.Latency.Count())
	}
	if h.Lateness.Count() != 40 {
		t.Errorf("half: lateness recorded for %d sends, want all 40", h.Lateness.Count())
	}
	if res.Total.Errors != 60 || res.Total.Failures[503] != 40 || res.Total.ErrorReasons[ReasonConnectRefused] != 20 {
		t.Errorf("total errors %d failures %v reasons %v", res.Total.Errors, res.Total.Failures, res.Total.ErrorReasons)
	}
}

// TestRunOKStatus: the success set decides what is an error, whatever the
// driver thought: 503 accepted, 200 refused.
func TestRunOKStatus(t *testing.T) {
	failing := newServer(t)
	failing.code.Store(503)
	ok := newServer(t)
	accept503, err := ParseStatusSet("503")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Config{
		Clients: []Client{
			{Name: "503 ok", Connections: 1, Pacer: mustConstant(t, 100), OKStatus: accept503, Endpoints: []Endpoint{{URL: failing.URL, Driver: newTestDriver(t, failing.URL)}}},
			{Name: "200 not ok", Connections: 1, Pacer: mustConstant(t, 100), OKStatus: accept503, Endpoints: []Endpoint{{URL: ok.URL, Driver: newTestDriver(t, ok.URL)}}},
		},
		Duration: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	a, b := res.Clients[0], res.Clients[1]
	if a.Requests != 30 || a.OK != 30 || a.Errors != 0 || len(a.Failures) != 0 || a.Latency.Count() != 30 {
		t.Errorf("503 accepted: requests %d ok %d errors %d failures %v latencies %d", a.Requests, a.OK, a.Errors, a.Failures, a.Latency.Count())
	}
	if b.Requests != 30 || b.OK != 0 || b.Failures[200] != 30 || b.Latency.Count() != 0 || b.ErrorLatency.Count() != 30 {
		t.Errorf("200 refused: requests %d ok %d failures %v latencies %d error latencies %d", b.Requests, b.OK, b.Failures, b.Latency.Count(), b.ErrorLatency.Count())
	}
}

func TestParseStatusSet(t *testing.T) {
	for _, tc := range []struct {
		in       string
		in1, out []int
		bad      bool
	}{
		{in: "200-399", in1: []int{200, 302, 399}, out: []int{199, 400, 503}},
		{in: "200, 204,300-302", in1: []int{200, 204, 301}, out: []int{201, 303}},
		{in: "0", in1: []int{0}, out: []int{1, 14}},
		{in: "", bad: true},
		{in: "2xx", bad: true},
		{in: "400-200", bad: true},
		{in: "200-", bad: true},
		{in: "1000", bad: true},
		{in: "-1", bad: true},
	} {
		s, err := ParseStatusSet(tc.in)
		if (err != nil) != tc.bad {
			t.Errorf("%q: err %v, want error %v", tc.in, err, tc.bad)
			continue
		}
		for _, c := range tc.in1 {
			if !s.Contains(c) {
				t.Errorf("%q does not contain %d", tc.in, c)
			}
		}
		for _, c := range tc.out {
			if s.Contains(c) {
				t.Errorf("%q contains %d", tc.in, c)
			}
		}
	}
}

func TestRunUnreachable(t *testing.T) {
	u1, u2 := refusedURL(t), refusedURL(t)
	_, err := Run(context.Background(), Config{
		Clients: []Client{
			{Connections: 1, Pacer: mustConstant(t, 10), Endpoints: []Endpoint{{URL: u1, Driver: newTestDriver(t, u1)}}},
			{Connections: 1, Endpoints: []Endpoint{{URL: u2, Driver: newTestDriver(t, u2)}}},
		},
		Duration: time.Second,
	})
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
	if !strings.Contains(err.Error(), u1) || !strings.Contains(err.Error(), u2) {
		t.Errorf("error %q does not name both endpoints", err)
	}
}

func TestRunCancelKeepsWhatWasMeasured(t *testing.T) {
	s := newServer(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(400*time.Millisecond, func() { cancel(errors.New("interrupted")) })
	// The server stalls from 300 ms on, so requests are in flight when the
	// run is cancelled: they must not hold it up, and they count as
	// cancelled with their elapsed time, so that the stall shows.
	time.AfterFunc(300*time.Millisecond, func() { s.stallFor(10 * time.Second) })
	began := time.Now()
	res, err := Run(ctx, Config{
		Clients:  []Client{{Connections: 4, Pacer: mustConstant(t, 200), Endpoints: []Endpoint{{URL: s.URL, Driver: newTestDriver(t, s.URL)}}}},
		Duration: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("cancelled run took %v to return", took)
	}
	if !res.Partial || !strings.Contains(res.PartialReason, "interrupted") {
		t.Errorf("partial %v reason %q", res.Partial, res.PartialReason)
	}
	f := res.Total
	// ~60 answered, 4 in flight (one per connection), ~16 overdue unsent.
	if f.Requests < 40 || f.Requests > 70 || f.Errors != 4 || f.ErrorReasons[ReasonCancelled] != 4 {
		t.Errorf("requests %d errors %v, want about 60 and 4 cancelled", f.Requests, f.ErrorReasons)
	}
	if f.Unsent < 8 || f.Unsent > 25 || !strings.Contains(res.PartialReason, "overdue") {
		t.Errorf("unsent %d (%q), want about 16 overdue", f.Unsent, res.PartialReason)
	}
	if m := f.Latency.Max(); m < 80*time.Millisecond || f.ErrorLatency.Count() != 4 {
		t.Errorf("latency max %v, %d error latencies: the stall must show", m, f.ErrorLatency.Count())
	}
	if res.Elapsed < 350*time.Millisecond || res.Elapsed > time.Second {
		t.Errorf("elapsed %v, want about 400ms", res.Elapsed)
	}
	within(t, "actual qps", f.ActualQPS, float64(f.Requests)/res.Elapsed.Seconds(), 1e-9)
}

func TestRunDrainExpires(t *testing.T) {
	s := newServer(t)
	// From 0.7 s on the server answers nothing: the backlog cannot drain.
	time.AfterFunc(700*time.Millisecond, func() { s.stallFor(10 * time.Second) })
	res, err := Run(context.Background(), Config{
		Clients:  []Client{{Connections: 1, Pacer: mustConstant(t, 100), Endpoints: []Endpoint{{URL: s.URL, Driver: newTestDriver(t, s.URL)}}}},
		Duration: time.Second, Drain: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	f := res.Total
	// ~70 answered, 1 timed out at the drain deadline, ~29 never sent.
	if f.ErrorReasons[ReasonTimeout] != 1 || f.Unsent < 20 || f.Requests+f.Unsent != 100 {
		t.Errorf("requests %d timeouts %d unsent %d", f.Requests, f.ErrorReasons[ReasonTimeout], f.Unsent)
	}
	if !res.Partial || !strings.Contains(res.PartialReason, "never sent") {
		t.Errorf("partial %v reason %q", res.Partial, res.PartialReason)
	}
}

func TestRunShares(t *testing.T) {
	s := newServer(t)
	var reqs [2]int64
	for k := range 2 {
		res, err := Run(context.Background(), Config{
			Clients:  []Client{{Connections: 2, Pacer: mustConstant(t, 400), Endpoints: []Endpoint{{URL: s.URL, Driver: newTestDriver(t, s.URL)}}}},
			Duration: 500 * time.Millisecond, Share: Share{Index: k, Count: 2},
		})
		if err != nil {
			t.Fatal(err)
		}
		reqs[k] = res.Total.Requests
		within(t, "requested qps of a half share", res.Total.RequestedQPS, 200, 1e-9)
	}
	if reqs[0] != 100 || reqs[1] != 100 {
		t.Errorf("shares sent %v, want 100 each", reqs)
	}
}

func TestRunProgress(t *testing.T) {
	s := newServer(t)
	var calls, warm atomic.Int64
	var last atomic.Value
	res, err := Run(context.Background(), Config{
		Clients:  []Client{{Connections: 2, Pacer: mustConstant(t, 200), Endpoints: []Endpoint{{URL: s.URL, Driver: newTestDriver(t, s.URL)}}}},
		Duration: 500 * time.Millisecond, Warmup: 200 * time.Millisecond, Interval: 100 * time.Millisecond,
		ProgressLatency: true,
		Progress: func(p Progress) {
			calls.Add(1)
			if p.Warmup {
				warm.Add(1)
			}
			last.Store(p)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if warm.Load() < 1 || calls.Load() < 5 {
		t.Errorf("%d progress calls, %d in warm-up", calls.Load(), warm.Load())
	}
	p := last.Load().(Progress)
	if p.Requests < 60 || p.P99 <= 0 || p.Rate <= 0 || p.Duration != 500*time.Millisecond {
		t.Errorf("last progress %+v", p)
	}
	if p.RequestedRate != 200 || p.Latency == nil || p.Latency.Count() > p.Requests || p.Latency.Count() == 0 ||
		len(p.Clients) != 1 || p.Clients[0].Requests != p.Requests || p.ErrorReasons == nil {
		t.Errorf("last progress: requested %v, latency count %v, clients %+v, reasons %v",
			p.RequestedRate, p.Latency.Count(), p.Clients, p.ErrorReasons)
	}
	// The series covers the window without gaps and holds every request.
	var sum int64
	var at time.Duration
	for i, iv := range res.Total.Intervals {
		if iv.Offset != at {
			t.Errorf("interval %d starts at %v, want %v", i, iv.Offset, at)
		}
		at = iv.Offset + iv.Length
		sum += iv.Requests
	}
	if sum != res.Total.Requests || at != res.Elapsed {
		t.Errorf("intervals hold %d requests up to %v; run %d up to %v", sum, at, res.Total.Requests, res.Elapsed)
	}
	if n := len(res.Total.Intervals); n < 4 || n > 6 {
		t.Errorf("%d intervals of 100ms in a 500ms window", n)
	}
}

// The series stays bounded: past perStep entries the step doubles.
func TestIntervalStepDoubles(t *testing.T) {
	rec := &clientRec{shards: []*shard{newShard(true, nil)}, fig: newFigures(true)}
	c := newCollector([]*clientRec{rec}, time.Second, 4)
	var at time.Duration
	for range 12 {
		rec.shards[0].record(at, at, at, at+time.Millisecond, true, Outcome{Code: 200}, nil, -1)
		if err := c.flush(at, c.step, false); err != nil {
			t.Fatal(err)
		}
		at += c.intervalsLast().Length
	}
	var lengths []time.Duration
	for _, iv := range c.total.intervals {
		lengths = append(lengths, iv.Length)
	}
	want := []time.Duration{1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4}
	for i := range want {
		if lengths[i] != want[i]*time.Second {
			t.Fatalf("interval lengths %v, want %v s", lengths, want)
		}
	}
	if c.total.n.requests != 12 {
		t.Errorf("%d requests", c.total.n.requests)
	}
}

func (c *collector) intervalsLast() Interval { return c.total.intervals[len(c.total.intervals)-1] }

func TestConfigInvalid(t *testing.T) {
	ep := []Endpoint{{URL: "x", Driver: fakeDriver{}}}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no clients", Config{Duration: time.Second}},
		{"no duration", Config{Clients: []Client{{Connections: 1, Endpoints: ep}}}},
		{"negative warm-up", Config{Clients: []Client{{Connections: 1, Endpoints: ep}}, Duration: time.Second, Warmup: -1}},
		{"no connections", Config{Clients: []Client{{Endpoints: ep}}, Duration: time.Second}},
		{"negative streams", Config{Clients: []Client{{Connections: 1, Streams: -1, Endpoints: ep}}, Duration: time.Second}},
		{"no endpoints", Config{Clients: []Client{{Connections: 1}}, Duration: time.Second}},
		{"no driver", Config{Clients: []Client{{Connections: 1, Endpoints: []Endpoint{{URL: "x"}}}}, Duration: time.Second}},
		{"bad share", Config{Clients: []Client{{Connections: 1, Endpoints: ep}}, Duration: time.Second, Share: Share{Index: 2, Count: 2}}},
		{"too many workers", Config{Clients: []Client{{Connections: 1000, Streams: 1000, Endpoints: ep}}, Duration: time.Second}},
		{"too many workers in all", Config{Clients: []Client{{Connections: MaxWorkers, Endpoints: ep}, {Connections: 1, Endpoints: ep}}, Duration: time.Second}},
		{"tiny interval", Config{Clients: []Client{{Connections: 1, Endpoints: ep}}, Duration: time.Second, Interval: time.Millisecond}},
		{"two protocols in a client", Config{Clients: []Client{{Connections: 1, Endpoints: append([]Endpoint{{URL: "y", Driver: fakeDriver{noCodes: true}}}, ep...)}},
			Duration: time.Second}},
	}
	for _, tt := range tests {
		if _, err := Run(context.Background(), tt.cfg); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tt.name, err)
		}
	}
}

// The drivers' protocol is in the result, and the codes of a protocol
// without them are not counted.
func TestRunProtocols(t *testing.T) {
	ep := func(d fakeDriver) []Endpoint { return []Endpoint{{URL: "mem://x", Driver: d}} }
	cfg := Config{Duration: 100 * time.Millisecond, Clients: []Client{
		{Name: "coded", Connections: 1, Pacer: mustConstant(t, 100), Endpoints: ep(fakeDriver{failAt: 2})},
		{Name: "raw", Connections: 1, Pacer: mustConstant(t, 100), Endpoints: ep(fakeDriver{noCodes: true})},
	}}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	coded, raw := res.Clients[0], res.Clients[1]
	if coded.Protocol != (Protocol{Name: "fake", Codes: "http"}) || coded.Codes[200] != 5 || coded.Failures[503] != 5 {
		t.Errorf("coded client: protocol %v, codes %v, failures %v", coded.Protocol, coded.Codes, coded.Failures)
	}
	if raw.Protocol != (Protocol{Name: "fake-raw"}) || len(raw.Codes) != 0 || len(raw.Failures) != 0 || raw.OK != 10 {
		t.Errorf("raw client: protocol %v, codes %v, failures %v, ok %d", raw.Protocol, raw.Codes, raw.Failures, raw.OK)
	}
	if res.Total.Protocol != (Protocol{}) || res.Total.Codes[200] != 5 {
		t.Errorf("total: protocol %v, codes %v", res.Total.Protocol, res.Total.Codes)
	}
	cfg.Clients = cfg.Clients[1:]
	if res, err = Run(context.Background(), cfg); err != nil || res.Total.Protocol.Name != "fake-raw" {
		t.Errorf("one client: total protocol %v, err %v", res.Total.Protocol, err)
	}
}
