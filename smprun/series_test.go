package smprun

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/load/udp"
	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/stats"
	"github.com/smp-project/smp/target"
)

func TestClientProtocol(t *testing.T) {
	const (
		pHTTP = spec.PerformanceTestConfig_Client_PROTOCOL_HTTP
		pGRPC = spec.PerformanceTestConfig_Client_PROTOCOL_GRPC
		pTCP  = spec.PerformanceTestConfig_Client_PROTOCOL_TCP
		pUDP  = spec.PerformanceTestConfig_Client_PROTOCOL_UDP
	)
	tests := []struct {
		name    string
		client  *spec.PerformanceTestConfig_Client
		want    string
		wantErr string
	}{
		{"http scheme", &spec.PerformanceTestConfig_Client{EndpointUrls: []string{"http://a/", "https://b/"}}, ProtoHTTP, ""},
		{"http2 flag", &spec.PerformanceTestConfig_Client{Http2: true, EndpointUrls: []string{"https://a/"}}, ProtoHTTP2, ""},
		{"grpc scheme", &spec.PerformanceTestConfig_Client{EndpointUrls: []string{"grpc://a:1", "grpcs://b:2/p.S/M"}}, ProtoGRPC, ""},
		{"tcp scheme", &spec.PerformanceTestConfig_Client{EndpointUrls: []string{"tcp://a:1"}}, ProtoTCP, ""},
		{"udp scheme", &spec.PerformanceTestConfig_Client{EndpointUrls: []string{"UDP://a:1"}}, ProtoUDP, ""},
		{"grpc field takes http URLs", &spec.PerformanceTestConfig_Client{Protocol: pGRPC, EndpointUrls: []string{"http://a:1", "grpc://b:2"}}, ProtoGRPC, ""},
		{"grpc field with http2 flag", &spec.PerformanceTestConfig_Client{Protocol: pGRPC, Http2: true, EndpointUrls: []string{"grpc://a:1"}}, ProtoGRPC, ""},
		{"http field", &spec.PerformanceTestConfig_Client{Protocol: pHTTP, EndpointUrls: []string{"http://a/"}}, ProtoHTTP, ""},
		{"mixed schemes", &spec.PerformanceTestConfig_Client{EndpointUrls: []string{"tcp://a:1", "udp://a:1"}}, "", `endpoint_urls[1]: "udp://a:1": scheme "udp" does not fit protocol tcp`},
		{"field against scheme", &spec.PerformanceTestConfig_Client{Protocol: pUDP, EndpointUrls: []string{"tcp://a:1"}}, "", `scheme "tcp" does not fit protocol udp`},
		{"tcp with http2", &spec.PerformanceTestConfig_Client{Protocol: pTCP, Http2: true, EndpointUrls: []string{"tcp://a:1"}}, "", "http2 has no meaning for protocol tcp"},
		{"unknown scheme", &spec.PerformanceTestConfig_Client{EndpointUrls: []string{"ftp://a/"}}, "", `unknown scheme "ftp"`},
		{"no host", &spec.PerformanceTestConfig_Client{EndpointUrls: []string{"http:///x"}}, "", "is not a URL"},
		{"no endpoints", &spec.PerformanceTestConfig_Client{}, "", "has no endpoint_urls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ClientProtocol(tt.client, "clients[0]")
			if tt.wantErr != "" {
				if !errors.Is(err, load.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrInvalid with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ClientProtocol = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// --protocol, and URLs given on the command line, set the protocol of
// every client of a config.
func TestConfigProtocol(t *testing.T) {
	file := &spec.PerformanceTestConfig{Clients: []*spec.PerformanceTestConfig_Client{
		{Protocol: spec.PerformanceTestConfig_Client_PROTOCOL_HTTP, Http2: true, EndpointUrls: []string{"http://a/"}}}}
	tests := []struct {
		name string
		s    Settings
		want string
	}{
		{"the file's", Settings{}, ProtoHTTP2},
		{"--protocol http", Settings{Protocol: ptr("http")}, ProtoHTTP},
		{"--protocol grpc", Settings{Protocol: ptr("GRPC")}, ProtoGRPC},
		{"URLs that fit keep it", Settings{URLs: []string{"https://b/"}}, ProtoHTTP2},
		{"URLs of another protocol choose theirs", Settings{URLs: []string{"udp://b:1"}}, ProtoUDP},
		{"--protocol over URLs", Settings{URLs: []string{"http://b:1"}, Protocol: ptr("grpc")}, ProtoGRPC},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ApplySettings(file, tt.s)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := ClientProtocol(c.Clients[0], "clients[0]"); err != nil || got != tt.want {
				t.Errorf("protocol %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestAdditionalOptions(t *testing.T) {
	tests := []struct {
		proto, opts string
		wantErr     string
		wantNote    bool
	}{
		{ProtoTCP, `{"connection_per_request": true, "delimiter": "\n"}`, "", false},
		{ProtoTCP, `{"delimeter": "\n"}`, `clients[2].additional_options: unknown key "delimeter"`, false},
		{ProtoUDP, `{"sequence": false}`, "", false},
		{ProtoUDP, `{"max_response_bytes": -1}`, "clients[2].additional_options: ", false},
		{ProtoGRPC, `{"authority": "x"}`, "", false},
		{ProtoGRPC, `[1]`, "clients[2].additional_options: ", false},
		{ProtoHTTP, `{"fortio": {"c": 1}}`, "", true},
		{ProtoHTTP2, ``, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.proto+" "+tt.opts, func(t *testing.T) {
			f, note, err := driverFactory(tt.proto, tt.opts, "clients[2]")
			if tt.wantErr != "" {
				if !errors.Is(err, load.ErrInvalid) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrInvalid with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || f == nil {
				t.Fatalf("err = %v", err)
			}
			if (note != "") != tt.wantNote {
				t.Errorf("note %q", note)
			}
		})
	}
}

// The UDP driver's losses are counted as lost, not as timeouts.
func TestLostClassified(t *testing.T) {
	err := fmt.Errorf("udp: request 3: %w", udp.ErrLost)
	if got := load.Classify(err); got != load.ReasonLost || !errors.Is(err, udp.ErrLost) {
		t.Errorf("Classify = %q, errors.Is ErrLost = %v", got, errors.Is(err, udp.ErrLost))
	}
}

func TestVariantNamesAndPaths(t *testing.T) {
	for _, tt := range []struct {
		names []string
		ok    bool
	}{
		{nil, true},
		{[]string{""}, true},
		{[]string{"base", "mesh-1.2_x"}, true},
		{[]string{"base", ""}, false},
		{[]string{"a", "a"}, false},
		{[]string{"a", "b/c"}, false},
		{[]string{"a", ".hidden"}, false},
		{[]string{"a", "with space"}, false},
	} {
		if err := CheckVariantNames(tt.names); (err == nil) != tt.ok {
			t.Errorf("CheckVariantNames(%q) = %v, want ok %v", tt.names, err, tt.ok)
		}
	}
	if a, b := (RunInfo{Run: 2, Runs: 6}).String(), (RunInfo{Variant: "base", Run: 1, Runs: 6}).String(); a != "run 2/6" || b != "base 1/6" {
		t.Errorf("RunInfo strings %q, %q", a, b)
	}
	for _, tt := range []struct{ path, name, want string }{
		{"out.yaml", "base", "out-base.yaml"},
		{"dir/out.json", "mesh", "dir/out-mesh.json"},
		{"noext", "a", "noext-a"},
		{"out.yaml", "", "out.yaml"},
	} {
		if got := VariantPath(tt.path, tt.name); got != tt.want {
			t.Errorf("VariantPath(%q, %q) = %q, want %q", tt.path, tt.name, got, tt.want)
		}
	}
}

// figuresOf makes engine figures with n latencies of d.
func figuresOf(name string, n int64, d time.Duration, errs int64, offsets ...time.Duration) load.Figures {
	f := load.Figures{Name: name, Pacer: "100/s", OpenLoop: true, Workers: 2, RequestedQPS: 100,
		Requests: n + errs, OK: n, Errors: errs, ErrorReasons: map[string]int64{}, Failures: map[int]int64{}, Codes: map[int]int64{200: n},
		Latency: hist.New(), Uncorrected: hist.New(), Lateness: hist.New()}
	if errs > 0 {
		f.ErrorReasons[load.ReasonTimeout] = errs
	}
	f.Latency.RecordN(d, n)
	f.Uncorrected.RecordN(d/2, n)
	f.Lateness.RecordN(time.Microsecond, n)
	for _, o := range offsets {
		f.Intervals = append(f.Intervals, load.Interval{Offset: o, Length: time.Second, Requests: n / int64(len(offsets))})
	}
	return f
}

func TestMergeRuns(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	run := func(i int, n int64, d time.Duration, errs int64) *load.Result {
		start := t0.Add(time.Duration(i) * 10 * time.Second)
		c := figuresOf("c", n, d, errs, 0, time.Second)
		return &load.Result{Start: start, End: start.Add(2 * time.Second), Elapsed: 2 * time.Second, Span: 2 * time.Second, Duration: 2 * time.Second,
			Total: c, Clients: []load.Figures{c}}
	}
	runs := []*load.Result{run(0, 200, time.Millisecond, 0), run(1, 200, 3*time.Millisecond, 4)}
	runs[1].Partial, runs[1].PartialReason = true, "interrupted"
	m, err := MergeRuns(runs)
	if err != nil {
		t.Fatal(err)
	}
	tot := m.Total
	if m.Elapsed != 4*time.Second || !m.Start.Equal(t0) || !m.End.Equal(t0.Add(12*time.Second)) {
		t.Errorf("window %v..%v elapsed %v", m.Start, m.End, m.Elapsed)
	}
	if tot.Requests != 404 || tot.OK != 400 || tot.Errors != 4 || tot.ErrorReasons[load.ReasonTimeout] != 4 || tot.Codes[200] != 400 {
		t.Errorf("counts %+v", tot)
	}
	if tot.ActualQPS != 101 || tot.RequestedQPS != 100 {
		t.Errorf("qps %v requested %v", tot.ActualQPS, tot.RequestedQPS)
	}
	if tot.Latency.Count() != 400 || tot.Latency.Percentile(50) != time.Millisecond || tot.Latency.Percentile(75) < 3*time.Millisecond-10*time.Microsecond {
		t.Errorf("latency count %d p50 %v p75 %v", tot.Latency.Count(), tot.Latency.Percentile(50), tot.Latency.Percentile(75))
	}
	var offs []time.Duration
	for _, iv := range tot.Intervals {
		offs = append(offs, iv.Offset)
	}
	if fmt.Sprint(offs) != "[0s 1s 2s 3s]" {
		t.Errorf("interval offsets %v", offs)
	}
	if !m.Partial || m.PartialReason != "run 2 of 2: interrupted" || len(m.Clients) != 1 || m.Clients[0].Requests != 404 {
		t.Errorf("partial %v %q, clients %d", m.Partial, m.PartialReason, len(m.Clients))
	}
	if runs[0].Total.Latency.Count() != 200 {
		t.Error("the runs were modified")
	}
	bad := run(2, 1, time.Millisecond, 0)
	bad.Clients = append(bad.Clients, bad.Clients[0])
	if _, err := MergeRuns([]*load.Result{runs[0], bad}); err == nil {
		t.Error("runs of different configs merged")
	}
	if _, err := MergeRuns(nil); err == nil {
		t.Error("no runs merged")
	}
}

func seriesTarget(t *testing.T) (*target.Server, string) {
	t.Helper()
	srv, err := target.Start(context.Background(), target.Config{HTTP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, "http://" + srv.Addrs().HTTP + "/"
}

func variant(t *testing.T, name, url string) Variant {
	t.Helper()
	cfg, err := ApplySettings(nil, Settings{URLs: []string{url}, QPS: ptr(float64(100)), Connections: ptr(1), Duration: ptr(200 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	return Variant{Name: name, Config: cfg}
}

func TestRunSeries(t *testing.T) {
	_, url := seriesTarget(t)
	vrs, err := RunSeries(context.Background(), []Variant{variant(t, "a", url+"?v=a"), variant(t, "b", url+"?v=b")}, SeriesOptions{Runs: 3, Order: OrderAlternate})
	if err != nil {
		t.Fatal(err)
	}
	if len(vrs) != 2 {
		t.Fatalf("%d vrs", len(vrs))
	}
	for _, vr := range vrs {
		r := vr.Result
		if len(vr.Runs) != 3 || len(r.Runs) != 3 || r.Name != vr.Name || r.Requests.GetTotal() != 60 || r.Partial {
			t.Errorf("%s: %d runs, result %q with %v", vr.Name, len(vr.Runs), r.Name, r.Requests)
		}
		if len(r.Summary) != len(stats.Metrics()) {
			t.Errorf("%s: summary %v", vr.Name, r.Summary)
		}
	}
	if ro := vrs[1].Result.GetRunOrder(); ro.GetOrder() != OrderAlternate || ro.GetSeed() != 0 || strings.Join(ro.GetSequence(), " ") != "a b a b a b" {
		t.Errorf("run order %v", ro)
	}
	// Interleaved: a1 b1 a2 b2 a3 b3.
	var starts []time.Time
	for i := range 3 {
		starts = append(starts, vrs[0].Runs[i].Start, vrs[1].Runs[i].Start)
	}
	for i := 1; i < len(starts); i++ {
		if !starts[i].After(starts[i-1]) {
			t.Errorf("run %d of the interleaved series started before run %d", i+1, i)
		}
	}
	cs, err := Compare(vrs, stats.Options{})
	if err != nil || len(cs) != 1 || cs[0].BaseName != "a" || cs[0].OtherName != "b" || cs[0].BaseRuns != 3 {
		t.Errorf("compare: %v %+v", err, cs)
	}
}

// One run of one variant gives the plain result of that run.
func TestRunSeriesSingle(t *testing.T) {
	_, url := seriesTarget(t)
	v := variant(t, "", url)
	v.Config.Name = "plain"
	vrs, err := RunSeries(context.Background(), []Variant{v}, SeriesOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := vrs[0].Result
	if len(r.Runs) != 0 || len(r.Summary) != 0 || r.Name != "plain" || r.Requests.GetTotal() != 20 || vrs[0].Load != vrs[0].Runs[0] {
		t.Errorf("result %q: runs %d, summary %d, requests %v", r.Name, len(r.Runs), len(r.Summary), r.Requests)
	}
}

// Bad input in any variant stops the series before anything runs.
func TestRunSeriesChecksEveryVariantFirst(t *testing.T) {
	srv, url := seriesTarget(t)
	bad := variant(t, "b", url)
	bad.Config.Clients[0].Timeout = "soon"
	_, err := RunSeries(context.Background(), []Variant{variant(t, "a", url), bad}, SeriesOptions{Runs: 2})
	if !errors.Is(err, load.ErrInvalid) || !strings.Contains(err.Error(), "variant b: ") {
		t.Fatalf("err = %v, want ErrInvalid naming variant b", err)
	}
	if n := srv.Stats().RequestsTotal; n != 0 {
		t.Errorf("the target served %d requests", n)
	}
	for _, o := range []SeriesOptions{{Runs: MaxRuns + 1}, {Pause: -time.Second}} {
		if _, err := RunSeries(context.Background(), []Variant{variant(t, "a", url)}, o); !errors.Is(err, load.ErrInvalid) {
			t.Errorf("%+v: err = %v", o, err)
		}
	}
}

// Cancelled during a pause, the series keeps what ran, marked partial.
func TestRunSeriesCancelled(t *testing.T) {
	_, url := seriesTarget(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	// The first run lasts about 200 ms; the cancellation comes in the
	// pause after it.
	time.AfterFunc(time.Second, func() { cancel(errors.New("enough")) })
	start := time.Now()
	vrs, err := RunSeries(ctx, []Variant{variant(t, "", url)}, SeriesOptions{Runs: 3, Pause: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 30*time.Second {
		t.Error("the pause was not cut short")
	}
	r := vrs[0].Result
	if !r.Partial || len(r.Runs) != 1 || r.PartialReason != "stopped after 1 of 3 runs: enough" {
		t.Errorf("partial %v %q, %d runs", r.Partial, r.PartialReason, len(r.Runs))
	}
}

// A target gone after the first run stops the series with an error, and
// the result of what ran.
func TestRunSeriesTargetGone(t *testing.T) {
	srv, url := seriesTarget(t)
	// The first run lasts about 200 ms; the target goes in the pause after
	// it.
	time.AfterFunc(time.Second, func() { srv.Close() })
	vrs, err := RunSeries(context.Background(), []Variant{variant(t, "", url)}, SeriesOptions{Runs: 3, Pause: 2 * time.Second})
	if !errors.Is(err, load.ErrUnreachable) || !strings.Contains(err.Error(), "run 2/3") {
		t.Fatalf("err = %v, want ErrUnreachable at run 2/3", err)
	}
	if len(vrs) != 1 || !vrs[0].Result.Partial || len(vrs[0].Runs) != 1 {
		t.Fatalf("vrs %+v", vrs)
	}
}

func TestCheckSLOs(t *testing.T) {
	r := &spec.PerformanceTestResult{
		LatenciesMs: &spec.PerformanceTestResult_Latency{P50: 1, P99: 12}, ActualQps: 995,
		Requests: &spec.PerformanceTestResult_Requests{Total: 1000, Errors: 2},
	}
	var slos []stats.SLO
	for _, s := range []string{"p99<25ms", "errors<0.1%", "qps>=990", "p99.9<1s"} {
		slo, err := stats.ParseSLO(s)
		if err != nil {
			t.Fatal(err)
		}
		slos = append(slos, slo)
	}
	checks := CheckSLOs([]*VariantResult{{Name: "mesh", Result: r}}, slos)
	want := []string{
		"mesh: SLO p99<25ms ok: p99 = 12.00 ms",
		"mesh: SLO errors<0.1% FAILED: errors = 0.200 %",
		"mesh: SLO qps>=990 ok: qps = 995.0 req/s",
		"mesh: SLO p99.9<1s FAILED: SLO p99.9<1s: the result has no p99.9",
	}
	if len(checks) != len(want) {
		t.Fatalf("%d checks", len(checks))
	}
	for i, c := range checks {
		if c.String() != want[i] {
			t.Errorf("check %d = %q, want %q", i, c, want[i])
		}
	}
}
