package stats

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/smp-project/smp/spec"
)

// run builds one run's result with the figures a comparison reads.
func run(p50, p99, qps float64, total, errs int64) *spec.PerformanceTestResult {
	return &spec.PerformanceTestResult{
		ActualQps: qps,
		LatenciesMs: &spec.PerformanceTestResult_Latency{
			P50: p50, P90: p50 * 1.5, P99: p99, Max: p99 * 2,
		},
		PercentilesMs: []*spec.PerformanceTestResult_Percentile{
			{Percentile: 50, Value: p50},
			{Percentile: 90, Value: p50 * 1.5},
			{Percentile: 99, Value: p99},
			{Percentile: 99.9, Value: p99 * 1.5},
		},
		Requests: &spec.PerformanceTestResult_Requests{Total: total, Ok: total - errs, Errors: errs},
	}
}

// noisyRuns draws n runs whose latencies are center × (1 + noise).
func noisyRuns(rng *rand.Rand, n int, center, noise float64) []*spec.PerformanceTestResult {
	runs := make([]*spec.PerformanceTestResult, n)
	for i := range runs {
		f := 1 + noise*rng.NormFloat64()
		runs[i] = run(center*f, 3*center*f, 1000*(1+0.001*rng.NormFloat64()), 60000, 0)
	}
	return runs
}

// TestCompare_DetectsShift is the statistics half of the end-to-end
// check: 1.0 ms against 1.2 ms, 6 runs each with 2% noise, must be a
// significant +20% ± 5 at p50, with an interval that holds 20 and is at
// most 10 points wide.
func TestCompare_DetectsShift(t *testing.T) {
	rng := rand.New(rand.NewPCG(2024, 6))
	c, err := Compare(noisyRuns(rng, 6, 1.0, 0.02), noisyRuns(rng, 6, 1.2, 0.02), Options{})
	if err != nil {
		t.Fatal(err)
	}
	mc, ok := c.metric(P50)
	if !ok {
		t.Fatal("no p50")
	}
	if !mc.Significant || !mc.Test.Exact || mc.Test.P > 0.0022 {
		t.Errorf("p50: significant %v, test %v; want p = 2/924", mc.Significant, mc.Test)
	}
	if math.Abs(mc.Change-20) > 5 || !mc.HasChangeInterval || mc.ChangeLow > 20 || mc.ChangeHigh < 20 || mc.ChangeHigh-mc.ChangeLow > 10 {
		t.Errorf("p50 change %v [%v, %v], want +20%% ± 5 with an interval around 20", mc.Change, mc.ChangeLow, mc.ChangeHigh)
	}
	if !approxEqual(mc.Shift, 0.2, 0.25) { // Hodges–Lehmann ≈ 0.2 ms
		t.Errorf("shift %v ms, want about 0.2", mc.Shift)
	}
	if v := c.Verdict(); !strings.Contains(v, "worse p50 +") || !strings.Contains(v, "p99 +") {
		t.Errorf("verdict %q", v)
	}
	if len(c.Caveats()) != 0 {
		t.Errorf("caveats with 6 runs a side: %v", c.Caveats())
	}
}

// TestCompare_FalsePositives: two identical configurations must read "~" in
// at least 19 of 20 seeded repetitions (the criterion), and the
// false-positive rate over 2000 repetitions must be close to α (the exact
// test at 6 + 6 runs has size 0.041 at α = 0.05).
func TestCompare_FalsePositives(t *testing.T) {
	count := func(reps int, seed uint64) int {
		rng := rand.New(rand.NewPCG(seed, 99))
		sig := 0
		for i := 0; i < reps; i++ {
			mc, err := CompareValues(P50, drawN(rng, 6), drawN(rng, 6), Options{Resamples: 200})
			if err != nil {
				t.Fatal(err)
			}
			if mc.Significant {
				sig++
			}
		}
		return sig
	}
	if sig := count(20, 1); sig > 1 {
		t.Errorf("%d of 20 identical comparisons significant, want at most 1", sig)
	}
	if sig := count(2000, 2); sig < 40 || sig > 125 {
		t.Errorf("%d of 2000 identical comparisons significant, want about 82 (α·size)", sig)
	}
}

func drawN(rng *rand.Rand, n int) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = 1 + 0.05*rng.NormFloat64()
	}
	return xs
}

func TestCompare_SingleRuns(t *testing.T) {
	c, err := Compare([]*spec.PerformanceTestResult{run(1, 3, 1000, 1000, 0)},
		[]*spec.PerformanceTestResult{run(1.5, 4, 990, 1000, 10)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c.BaseName, c.OtherName = "base", "mesh"
	mc, _ := c.metric(P50)
	if mc.Significant || mc.HasChangeInterval || mc.Base.HasInterval || !approxEqual(mc.Change, 50, 1e-12) || mc.Test.P != 1 {
		t.Errorf("single runs: %+v", mc)
	}
	// Error rate 0% → 1%: the change is in percentage points.
	if e, _ := c.metric(Errors); e.Change != 1 || e.Other.Median != 1 || e.ChangeText() != "+1.000pp" {
		t.Errorf("errors: change %v (%s), other %v", e.Change, e.ChangeText(), e.Other.Median)
	}
	cv := strings.Join(c.Caveats(), "\n")
	for _, want := range []string{"base has 1 run: no 95% interval of its median (needs at least 6)", "mesh has 1 run", "smallest possible p = 1"} {
		if !strings.Contains(cv, want) {
			t.Errorf("caveats %q lack %q", cv, want)
		}
	}
	if v := c.Verdict(); !strings.Contains(v, "no conclusion: too few runs") {
		t.Errorf("verdict %q", v)
	}
}

func TestCompare_Errors(t *testing.T) {
	if _, err := Compare(nil, []*spec.PerformanceTestResult{run(1, 2, 3, 4, 0)}, Options{}); err == nil {
		t.Error("no base runs: want an error")
	}
	if _, err := Compare([]*spec.PerformanceTestResult{run(1, 2, 3, 4, 0)}, []*spec.PerformanceTestResult{run(1, 2, 3, 4, 0)}, Options{Alpha: 2}); err == nil {
		t.Error("alpha 2: want an error")
	}
}

func TestCompareValues_OneSideMissing(t *testing.T) {
	mc, err := CompareValues(P999, []float64{1, 2}, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if mc.HasTest || mc.Significant || !math.IsNaN(mc.Change) || mc.Base.N != 2 {
		t.Errorf("%+v", mc)
	}
}

func TestValue(t *testing.T) {
	full := run(1.5, 9, 998, 1000, 5)
	onlyLatency := &spec.PerformanceTestResult{
		LatenciesMs: &spec.PerformanceTestResult_Latency{P50: 2, P90: 3, P99: 4, Max: 5},
		ActualQps:   100,
	}
	tests := []struct {
		name string
		r    *spec.PerformanceTestResult
		m    Metric
		want float64
		ok   bool
	}{
		{"p50 from percentiles", full, P50, 1.5, true},
		{"p99.9 from percentiles", full, P999, 13.5, true},
		{"max from latencies", full, Max, 18, true},
		{"qps", full, QPS, 998, true},
		{"error rate in percent", full, Errors, 0.5, true},
		{"p90 fallback", onlyLatency, P90, 3, true},
		{"p99.9 absent", onlyLatency, P999, 0, false},
		{"errors without requests", onlyLatency, Errors, 0, false},
		{"empty result qps", &spec.PerformanceTestResult{}, QPS, 0, false},
		{"nil run", nil, P50, 0, false},
		{"unknown metric", full, Metric("p42"), 0, false},
	}
	for _, tt := range tests {
		got, ok := Value(tt.r, tt.m)
		if ok != tt.ok || (ok && !approxEqual(got, tt.want, 1e-12)) {
			t.Errorf("%s: %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestRunsAndSummaries(t *testing.T) {
	single := run(1, 2, 3, 10, 0)
	if got := Runs(single); len(got) != 1 || got[0] != single {
		t.Errorf("a result without runs is one sample")
	}
	multi := &spec.PerformanceTestResult{}
	for i := 1; i <= 6; i++ {
		multi.Runs = append(multi.Runs, run(float64(i), float64(10*i), 1000, 100, 0))
	}
	if len(Runs(multi)) != 6 || Runs(nil) != nil {
		t.Errorf("Runs")
	}
	// Too few runs: no interval, the requested confidence kept.
	few, err := Summaries(Runs(multi)[:3], 0.95)
	if err != nil || few[0].GetHasInterval() || few[0].GetConfidence() != 0.95 || few[0].GetLow() != 0 || few[0].GetMedian() != 2 {
		t.Errorf("3 runs: %v, %v", few[0], err)
	}
	sums, err := Summaries(Runs(multi), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != len(Metrics()) {
		t.Fatalf("%d summaries, want %d", len(sums), len(Metrics()))
	}
	p50 := sums[0]
	if p50.GetMetric() != "p50" || p50.GetRuns() != 6 || p50.GetMedian() != 3.5 || !p50.GetHasInterval() ||
		p50.GetLow() != 1 || p50.GetHigh() != 6 || p50.GetConfidence() != 0.96875 || p50.GetUnit() != "ms" {
		t.Errorf("p50 summary %v", p50)
	}
}

func TestParseMetric(t *testing.T) {
	for in, want := range map[string]Metric{"p50": P50, "P99.9": P999, "p999": P999, "actual_qps": QPS, "error_rate": Errors, " max ": Max} {
		if got, err := ParseMetric(in); err != nil || got != want {
			t.Errorf("ParseMetric(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseMetric("p42"); err == nil || !strings.Contains(err.Error(), "p50, p90") {
		t.Errorf("unknown metric: %v", err)
	}
}

// A variant whose every request failed has no latency: its latency metrics
// are missing — "no successful requests", worse — and never better, even
// though its latency figures read 0 ms; a budget on them fails.
func TestCompare_TotalFailureNeverBetter(t *testing.T) {
	var base []*spec.PerformanceTestResult
	for i := range 8 {
		base = append(base, run(10+float64(i)/10, 30+float64(i), 1000, 1000, 0))
	}
	var failed []*spec.PerformanceTestResult
	for range 8 {
		failed = append(failed, run(0, 0, 1000, 1000, 1000))
	}
	c, err := Compare(base, failed, Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := c.Verdict()
	if strings.Contains(v, "better") || !strings.Contains(v, "worse") || !strings.Contains(v, "p99 (no successful requests)") {
		t.Errorf("verdict %q", v)
	}
	fails, err := c.CheckBudgets([]Budget{{Metric: P99, MaxPct: 10}})
	if err != nil || len(fails) != 1 || !strings.Contains(fails[0], "no successful requests") {
		t.Errorf("budget: %q, %v", fails, err)
	}
	// ok = 0 alone proves nothing (documents that count only total and
	// errors leave it out); errors = total does.
	odd := run(0, 0, 10, 10, 4)
	odd.Requests.Ok = 0
	if NoSuccess(odd) || !NoSuccess(run(0, 0, 10, 10, 10)) || NoSuccess(run(1, 2, 3, 10, 9)) ||
		NoSuccess(&spec.PerformanceTestResult{Requests: &spec.PerformanceTestResult_Requests{Total: 5}}) {
		t.Error("NoSuccess misjudges")
	}
}
