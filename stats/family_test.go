package stats

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/smp-project/smp/spec"
)

func TestAdjust(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name, correction string
		ps, want         []float64
	}{
		// Holm: sorted 0.005·4, 0.01·3, 0.03·2, 0.04·1 → 0.06 (monotone).
		{"holm", CorrectionHolm, []float64{0.01, 0.04, 0.03, 0.005}, []float64{0.03, 0.06, 0.06, 0.02}},
		{"default is holm", "", []float64{0.01, 0.04, 0.03, 0.005}, []float64{0.03, 0.06, 0.06, 0.02}},
		{"bonferroni", CorrectionBonferroni, []float64{0.01, 0.04, 0.03, 0.005}, []float64{0.04, 0.16, 0.12, 0.02}},
		{"none", CorrectionNone, []float64{0.01, 0.04}, []float64{0.01, 0.04}},
		{"capped at 1", CorrectionHolm, []float64{0.6, 0.9}, []float64{1, 1}},
		// NaN is no test: it stays NaN and the family has 2 members.
		{"NaN not counted", CorrectionHolm, []float64{0.02, nan, 0.01}, []float64{0.02, nan, 0.02}},
	}
	for _, tt := range tests {
		got, err := Adjust(tt.ps, tt.correction)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		for i := range got {
			if !(math.IsNaN(got[i]) && math.IsNaN(tt.want[i])) && math.Abs(got[i]-tt.want[i]) > 1e-12 {
				t.Errorf("%s: adjusted %v, want %v", tt.name, got, tt.want)
				break
			}
		}
	}
	if _, err := Adjust([]float64{0.1}, "fdr"); err == nil || !strings.Contains(err.Error(), "allowed are holm, bonferroni, none") {
		t.Errorf("unknown correction: %v", err)
	}
}

// independentRuns draws n runs whose seven metrics vary independently of
// each other, around fixed centres times scale (latencies) — the case in
// which a family-wise correction is tightest: with metrics that move
// together (p50 and p90 of the same runs), Holm is more conservative.
func independentRuns(rng *rand.Rand, n int, scale float64) []*spec.PerformanceTestResult {
	runs := make([]*spec.PerformanceTestResult, n)
	for i := range runs {
		ln := func(c, sd float64) float64 { return scale * c * math.Exp(sd*rng.NormFloat64()) }
		runs[i] = &spec.PerformanceTestResult{
			ActualQps:   1000 * math.Exp(0.002*rng.NormFloat64()),
			LatenciesMs: &spec.PerformanceTestResult_Latency{Max: ln(10, 0.3)},
			PercentilesMs: []*spec.PerformanceTestResult_Percentile{
				{Percentile: 50, Value: ln(1, 0.02)},
				{Percentile: 90, Value: ln(1.5, 0.03)},
				{Percentile: 99, Value: ln(2, 0.05)},
				{Percentile: 99.9, Value: ln(4, 0.2)},
			},
			Requests: &spec.PerformanceTestResult_Requests{Total: 1_000_000, Errors: int64(1000 + rng.IntN(1000))},
		}
	}
	return runs
}

// TestCompare_FamilyWiseFalsePositives is the criterion: 1,000
// comparisons of identical configurations (every metric drawn from the same
// distribution on both sides) call something changed in 3% to 7% of them
// at α = 0.05 with Holm's correction, where each metric tested on its own
// calls something changed in up to 1 − 0.95⁷ ≈ 30% (less with the exact
// test's discrete p values). 10 runs a side: at 6 the exact test's p values
// are coarse (2/924, 4/924, 8/924...), Holm's first step at 0.05/7 takes
// only the first two, and the rate falls to about 3% — conservative, and
// too close to the bound to test.
func TestCompare_FamilyWiseFalsePositives(t *testing.T) {
	const trials, runs = 1000, 10
	rng := rand.New(rand.NewPCG(14, 2026))
	corrected, uncorrected := 0, 0
	for range trials {
		base, other := independentRuns(rng, runs, 1), independentRuns(rng, runs, 1)
		c, err := Compare(base, other, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Family() != 7 {
			t.Fatalf("family of %d metrics, want 7", c.Family())
		}
		if !strings.Contains(c.Verdict(), "no significant difference") {
			corrected++
		}
		raw := false
		for _, mc := range c.Metrics {
			raw = raw || mc.Test.P < c.Alpha
		}
		if raw {
			uncorrected++
		}
	}
	rate, rawRate := float64(corrected)/trials, float64(uncorrected)/trials
	t.Logf("family-wise false-positive rate: %.1f%% with Holm, %.1f%% uncorrected (%d runs a side, %d comparisons)",
		100*rate, 100*rawRate, runs, trials)
	if rate < 0.03 || rate > 0.07 {
		t.Errorf("family-wise false-positive rate %.1f%%, want within [3%%, 7%%]", 100*rate)
	}
	if rawRate < 0.2 {
		t.Errorf("uncorrected rate %.1f%%: the simulation does not show the problem Holm solves", 100*rawRate)
	}
}

// TestHodgesLehmannCI_Coverage is the criterion for the interval:
// with 6 runs a side and a known change of +20% of every run (runs spread
// log-normally), the interval of the change of the medians covers +20% in
// at least 93% of 1,000 trials (its exact coverage is 1 − 2·19/924 ≈ 95.9%),
// through the same Compare every output uses.
func TestHodgesLehmannCI_Coverage(t *testing.T) {
	const trials, runs, change = 1000, 6, 20.0
	rng := rand.New(rand.NewPCG(6, 6))
	covered := 0
	for range trials {
		base, other := independentRuns(rng, runs, 1), independentRuns(rng, runs, 1+change/100)
		c, err := Compare(base, other, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []Metric{P50, P99, Max} {
			mc, _ := c.metric(m)
			if !mc.HasChangeInterval || mc.Bootstrap {
				t.Fatalf("%s: no Hodges–Lehmann interval: %+v", m, mc)
			}
		}
		// p99.9 spreads ±20%: the widest interval, the hardest to get right.
		mc, _ := c.metric(P999)
		if mc.ChangeLow <= change+1e-9 && change-1e-9 <= mc.ChangeHigh {
			covered++
		}
		if math.Abs(mc.ChangeConfidence-(1-2*19.0/924)) > 1e-9 {
			t.Fatalf("achieved confidence %v, want %v", mc.ChangeConfidence, 1-2*19.0/924)
		}
	}
	rate := float64(covered) / trials
	t.Logf("coverage of a +%g%% change by the 95%% interval, %d runs a side: %.1f%% of %d trials", change, runs, 100*rate, trials)
	if rate < 0.93 {
		t.Errorf("coverage %.1f%%, want at least 93%%", 100*rate)
	}
}

func TestHodgesLehmannCI(t *testing.T) {
	// Fully separated samples of 4: U ranges 0..16, P(U ≤ 0) = 1/70 ≤
	// 0.025 < P(U ≤ 1) = 2/70, so the interval is the extreme differences
	// (R: wilcox.test(5:8, 1:4, conf.int = TRUE) gives 1 to 7 at 97.1%).
	si, err := HodgesLehmannCI([]float64{1, 2, 3, 4}, []float64{5, 6, 7, 8}, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if si.Low != 1 || si.High != 7 || si.Estimate != 4 || math.Abs(si.Confidence-(1-2.0/70)) > 1e-12 {
		t.Errorf("interval %+v, want [1, 7] around 4 at %.4f", si, 1-2.0/70)
	}
	if _, err := HodgesLehmannCI([]float64{1, 2, 3}, []float64{4, 5, 6}, 0.95); !errors.Is(err, ErrTooFewForShift) {
		t.Errorf("3 a side at 95%%: err = %v, want ErrTooFewForShift", err)
	}
	if n := MinShiftRuns(0.95); n != 4 {
		t.Errorf("MinShiftRuns(0.95) = %d, want 4", n)
	}
	// Above 50 a side the normal approximation: symmetric about the shift.
	rng := rand.New(rand.NewPCG(1, 2))
	a, b := make([]float64, 60), make([]float64, 60)
	for i := range a {
		a[i], b[i] = rng.NormFloat64(), 3+rng.NormFloat64()
	}
	if si, err := HodgesLehmannCI(a, b, 0.95); err != nil || si.Low > 3 || si.High < 3 || si.High-si.Low > 1.5 {
		t.Errorf("60 a side: %+v, %v", si, err)
	}
}

// setupResult is a result of the given setup with 6 runs of 1 ms.
func setupResult(proto spec.PerformanceTestConfig_Client_Protocol, url string, rps int64, conns int32, dur string, gen string) *spec.PerformanceTestResult {
	r := &spec.PerformanceTestResult{
		RequestedQps: float64(rps),
		Config: &spec.PerformanceTestConfig{Duration: dur, Clients: []*spec.PerformanceTestConfig_Client{
			{Protocol: proto, EndpointUrls: []string{url}, Connections: conns, Rps: rps}}},
		Generator: &spec.PerformanceTestResult_Generator{Name: gen, Version: "1.0"},
	}
	r.Runs = independentRuns(rand.New(rand.NewPCG(1, 1)), 6, 1)
	return r
}

// TestDifferences: each way two results can differ as experiments gives
// one warning naming both sides' values, and like results give none.
func TestDifferences(t *testing.T) {
	const http = spec.PerformanceTestConfig_Client_PROTOCOL_HTTP
	base := setupResult(http, "http://a/", 300, 16, "30s", "smp")
	tests := []struct {
		name        string
		other       *spec.PerformanceTestResult
		uncorrected bool
		want        string
	}{
		{"alike", setupResult(http, "http://b/", 300, 16, "30s", "smp"), false, ""},
		{"protocol", setupResult(spec.PerformanceTestConfig_Client_PROTOCOL_TCP, "tcp://b:1", 300, 16, "30s", "smp"), false, "protocol differs: base http, other tcp"},
		{"protocol from the scheme", setupResult(0, "grpc://b:1", 300, 16, "30s", "smp"), false, "protocol differs: base http, other grpc"},
		{"loop", setupResult(http, "http://b/", 0, 16, "30s", "smp"), false, "loop differs: base open loop, other closed loop"},
		{"requested rate", setupResult(http, "http://b/", 200, 16, "30s", "smp"), false, "requested rate differs: base 300.0/s, other 200.0/s"},
		{"connections", setupResult(http, "http://b/", 300, 64, "30s", "smp"), false, "connections differs: base 16, other 64"},
		{"duration", setupResult(http, "http://b/", 300, 16, "1m", "smp"), false, "duration differs: base 30s, other 1m0s"},
		{"latency view", setupResult(http, "http://b/", 300, 16, "30s", "smp"), true, "latency view differs: base corrected (timed from the intended send), other uncorrected (timed from the actual send)"},
		{"generator", setupResult(http, "http://b/", 300, 16, "30s", "fortio"), false, "load generator differs: base smp 1.0, other fortio 1.0"},
	}
	for _, tt := range tests {
		got := Differences(Side{Name: "base", Result: base}, Side{Name: "other", Result: tt.other, Uncorrected: tt.uncorrected})
		switch {
		case tt.want == "" && len(got) != 0:
			t.Errorf("%s: warnings %q, want none", tt.name, got)
		case tt.want != "" && (len(got) != 1 || got[0] != tt.want):
			t.Errorf("%s: warnings %q, want [%q]", tt.name, got, tt.want)
		}
	}
	cs, err := CompareSides([]Side{{Name: "base", Result: base}, {Name: "other", Result: tests[4].other}}, Options{})
	if err != nil || len(cs[0].Warnings) != 1 {
		t.Fatalf("CompareSides: %v, warnings %v", err, cs)
	}
	var b strings.Builder
	if err := WriteComparisons(&b, cs, "text"); err != nil || !strings.Contains(b.String(), "warning: other vs base: requested rate differs") {
		t.Errorf("text lacks the warning (%v):\n%s", err, b.String())
	}
}

// TestCompare_PartialRuns: partial runs are left out and counted unless
// IncludePartial; a side with only partial runs is an error that says how
// to compare them anyway.
func TestCompare_PartialRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	base, other := independentRuns(rng, 6, 1), independentRuns(rng, 7, 1)
	// A cut run is short and fast: were it kept, p50 would move.
	other[6].Partial, other[6].PercentilesMs[0].Value = true, 0.01
	c, err := Compare(base, other, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.OtherRuns != 6 || c.OtherExcluded != 1 || c.BaseExcluded != 0 {
		t.Errorf("runs %d excluded %d/%d, want 6 and 1", c.OtherRuns, c.BaseExcluded, c.OtherExcluded)
	}
	if cv := strings.Join(c.Caveats(), "\n"); !strings.Contains(cv, "1 partial run left out (--include-partial keeps them)") {
		t.Errorf("caveats %q", cv)
	}
	c, err = Compare(base, other, Options{IncludePartial: true})
	if err != nil || c.OtherRuns != 7 || c.OtherExcluded != 0 {
		t.Errorf("include partial: %v, %d runs", err, c.OtherRuns)
	}
	for _, r := range other {
		r.Partial = true
	}
	if _, err := Compare(base, other, Options{}); err == nil || !strings.Contains(err.Error(), "--include-partial") {
		t.Errorf("all partial: %v", err)
	}
}

// TestWriteComparisons_SameVerdicts: text, markdown, CSV and JSON give each
// metric the same verdict (Comparison.Status), for a change, no change, a
// missing metric and too few runs.
func TestWriteComparisons_SameVerdicts(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	mixed := independentRuns(rng, 6, 1.3)
	for _, r := range mixed { // latency worse, qps and errors as the base
		r.ActualQps = 1000 * math.Exp(0.002*rng.NormFloat64())
	}
	cs, err := CompareAll([]*spec.PerformanceTestResult{{Runs: independentRuns(rng, 6, 1)}, {Runs: mixed}, {Runs: independentRuns(rng, 2, 1)}},
		[]string{"base", "slow", "few"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]Status{}
	for _, c := range cs {
		want[c.OtherName] = map[string]Status{}
		for _, mc := range c.Metrics {
			want[c.OtherName][string(mc.Metric)] = c.Status(mc)
		}
	}
	if want["slow"]["p50"] != StatusWorse || want["slow"]["qps"] != StatusUnchanged || want["few"]["p50"] != StatusUntestable {
		t.Fatalf("statuses %v", want)
	}
	cellOf := map[Status]func(string) bool{
		StatusWorse:      func(s string) bool { return strings.HasPrefix(s, "+") },
		StatusUnchanged:  func(s string) bool { return s == "~" || s == `\~` },
		StatusUntestable: func(s string) bool { return strings.HasPrefix(s, "(") },
	}
	for _, format := range []string{"text", "markdown", "csv", "json"} {
		var b strings.Builder
		if err := WriteComparisons(&b, cs, format); err != nil {
			t.Fatal(err)
		}
		got := statusesIn(t, format, b.String())
		for v, ms := range want {
			for m, st := range ms {
				g, ok := got[v][m]
				if format == "csv" || format == "json" {
					if Status(g) != st {
						t.Errorf("%s: %s %s = %q, want %q", format, v, m, g, st)
					}
				} else if !ok || !cellOf[st](g) {
					t.Errorf("%s: %s %s cell %q, want a %s cell", format, v, m, g, st)
				}
			}
		}
	}
}

// statusesIn reads each variant's per-metric verdicts back from an output:
// the "vs base" cell of the tables, the status of CSV and JSON.
func statusesIn(t *testing.T, format, out string) map[string]map[string]string {
	t.Helper()
	got := map[string]map[string]string{}
	set := func(v, m, s string) {
		if got[v] == nil {
			got[v] = map[string]string{}
		}
		got[v][m] = s
	}
	switch format {
	case "csv":
		recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		col := slices.Index(recs[0], "status")
		for _, r := range recs[1:] {
			set(r[1], r[2], r[col])
		}
	case "json":
		var doc struct {
			Variants []struct {
				Name    string
				Metrics []struct{ Metric, Status string }
			}
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		for _, v := range doc.Variants {
			for _, m := range v.Metrics {
				set(v.Name, m.Metric, m.Status)
			}
		}
	case "markdown":
		lines := strings.Split(out, "\n")
		head := strings.Split(strings.Trim(lines[0], "| "), " | ")
		for _, l := range lines[2:] {
			if !strings.HasPrefix(l, "| ") {
				break
			}
			cells := strings.Split(strings.Trim(l, "| "), " | ")
			for k := 2; k+1 < len(head); k += 4 {
				set(head[k], strings.Fields(cells[0])[0], cells[k+1])
			}
		}
	case "text":
		lines := strings.Split(out, "\n")
		head := []rune(lines[0])
		var ends []int // where each "vs base" column ends (right-aligned)
		for i := 0; i+7 <= len(head); i++ {
			if string(head[i:i+7]) == "vs base" {
				ends = append(ends, i+7)
			}
		}
		for _, l := range lines[1:] {
			if l == "" {
				break
			}
			r := []rune(l)
			for k, end := range ends {
				if end > len(r) {
					t.Fatalf("short row %q", l)
				}
				start := end
				for start > 1 && !(r[start-1] == ' ' && r[start-2] == ' ') {
					start--
				}
				before := strings.Fields(string(head[:ends[k]-7]))
				set(before[len(before)-1], strings.Fields(l)[0], strings.TrimSpace(string(r[start:end])))
			}
		}
	}
	return got
}
