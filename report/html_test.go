package report

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/stats"
)

// TestHTMLOneHourSize: a report of a 1-hour run (3,600 intervals) stays
// under 2 MB, and so does one of three such runs.
func TestHTMLOneHourSize(t *testing.T) {
	var rs []*spec.PerformanceTestResult
	for i := range 3 {
		rs = append(rs, synth{name: "run", seconds: 3600, rate: 1000, median: time.Millisecond, sigma: 0.5, seed: uint64(i + 1),
			errorsAt: map[int]int64{100: 1, 2000: 50}}.result(t))
	}
	for _, n := range []int{1, 3} {
		var buf bytes.Buffer
		if err := WriteHTML(&buf, rs[:n], Options{}); err != nil {
			t.Fatal(err)
		}
		t.Logf("%d one-hour result(s): %d bytes", n, buf.Len())
		if buf.Len() >= 2<<20 {
			t.Errorf("%d one-hour results: %d bytes, want under 2 MB", n, buf.Len())
		}
		// Equal names are told apart in the legend.
		if n == 3 && !strings.Contains(buf.String(), "run (3)") {
			t.Error("duplicate names not made distinct")
		}
	}
}

// TestHTMLSelfContained: nothing in the page points elsewhere, the same
// input gives the same bytes, and names cannot inject markup.
func TestHTMLSelfContained(t *testing.T) {
	r := synth{name: `<script>alert("x")</script>`, seconds: 30, rate: 100, median: time.Millisecond, sigma: 0.3, seed: 5}.result(t)
	var a, b bytes.Buffer
	if err := WriteHTML(&a, []*spec.PerformanceTestResult{r}, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(&b, []*spec.PerformanceTestResult{r}, Options{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two reports of the same result differ")
	}
	page := a.String()
	if strings.Contains(page, `<script>alert`) {
		t.Error("a result name was written as markup")
	}
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:|//)|@import|url\(\s*['"]?(https?:|//)|<link\b|<iframe\b`)
	if m := external.FindString(page); m != "" {
		t.Errorf("page refers to something outside it: %q", m)
	}
	if n := strings.Count(page, `<svg class="chart"`); n != 4 {
		t.Errorf("%d charts, want 4", n)
	}
}

func TestHTMLFallbacks(t *testing.T) {
	good := synth{name: "good", seconds: 10, rate: 100, median: time.Millisecond, sigma: 0.3, seed: 5}.result(t)
	broken := synth{name: "broken", seconds: 10, rate: 100, median: time.Millisecond, sigma: 0.3, seed: 6}.result(t)
	broken.Histogram.Data = "HISTFAAAAnotbase64!"
	tests := []struct {
		name    string
		results []*spec.PerformanceTestResult
		opts    Options
		wants   []string
		err     string
	}{
		{"no results", nil, Options{}, nil, "no results"},
		{"nil result", []*spec.PerformanceTestResult{nil}, Options{}, nil, "result 1 is empty"},
		{"broken histogram is reported, not fatal", []*spec.PerformanceTestResult{good, broken}, Options{Title: "T"},
			[]string{"broken: histogram.data: decode histogram", "<h1>T</h1>", "broken vs good"}, ""},
		{"names and generated time", []*spec.PerformanceTestResult{good}, Options{Names: []string{"baseline"}, Generated: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
			[]string{"baseline", "generated 2026-01-01T00:00:00Z"}, ""},
		{"no comparison when asked", []*spec.PerformanceTestResult{good, good}, Options{NoCompare: true}, nil, ""},
		{"empty result", []*spec.PerformanceTestResult{{}}, Options{}, []string{"No result has a histogram or percentiles", "no time series"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := WriteHTML(&buf, tc.results, tc.opts)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.wants {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("page lacks %q", w)
				}
			}
			if tc.opts.NoCompare && strings.Contains(buf.String(), `id="comparison"`) {
				t.Error("comparison written")
			}
		})
	}
}

func TestDownsample(t *testing.T) {
	iv := func(off float64, req, errs int64, p50, p99, mx float64) *spec.PerformanceTestResult_Interval {
		return &spec.PerformanceTestResult_Interval{OffsetS: off, Requests: req, Errors: errs, ActualQps: float64(req), P50Ms: p50, P99Ms: p99, MaxMs: mx}
	}
	ivs := []*spec.PerformanceTestResult_Interval{
		iv(0, 10, 0, 1, 2, 3), iv(1, 20, 5, 3, 9, 30), iv(2, 30, 0, 2, 4, 5), iv(3, 40, 1, 2, 3, 4), iv(4, 0, 0, 0, 0, 0),
	}
	tests := []struct {
		name      string
		max       int
		wantN, k  int
		first     point
		lastLen   float64
		lastNoLat bool
	}{
		{"no merge", 10, 5, 1, point{offset: 0, length: 1, requests: 10, qps: 10, p50: 1, p99: 2, max: 3}, 1, true},
		{"pairs", 3, 3, 2, point{offset: 0, length: 2, requests: 30, errors: 5, qps: 15, p50: 2, p99: 9, max: 30}, 1, true},
		{"one point", 1, 1, 5, point{offset: 0, length: 5, requests: 100, errors: 6, qps: 20, p50: 2, p99: 9, max: 30}, 5, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pts, k, step := downsample(ivs, tc.max)
			if len(pts) != tc.wantN || k != tc.k || step != 1 {
				t.Fatalf("%d points, k %d, step %g", len(pts), k, step)
			}
			if pts[0] != tc.first {
				t.Errorf("first %+v, want %+v", pts[0], tc.first)
			}
			last := pts[len(pts)-1]
			if last.length != tc.lastLen || math.IsNaN(last.p99) != tc.lastNoLat {
				t.Errorf("last %+v", last)
			}
		})
	}
	if pts, _, _ := downsample(nil, 10); pts != nil {
		t.Error("points from nothing")
	}
}

func TestTicksAndFormats(t *testing.T) {
	lo, hi, ticks := logTicks(0.13, 47)
	if lo != 0.1 || hi != 50 || ticks[0] != 0.1 || ticks[len(ticks)-1] != 50 {
		t.Errorf("log ticks %g..%g %v", lo, hi, ticks)
	}
	lo, hi, ticks = linearTicks(0, 1043, 5)
	if lo != 0 || hi != 1250 || len(ticks) != 6 {
		t.Errorf("linear ticks %g..%g %v", lo, hi, ticks)
	}
	for in, want := range map[float64]string{0.25: "250µs", 1.2345: "1.23ms", 2500: "2.5s", 0: "0"} {
		if got := formatMs(in); got != want {
			t.Errorf("formatMs(%g) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[float64]string{0: "0%", 90: "90%", 99.9: "99.9%", 99.999: "99.999%"} {
		if got := percentileLabel(in); got != want {
			t.Errorf("percentileLabel(%g) = %q, want %q", in, got, want)
		}
	}
	if got := formatCount(-1234567); got != "-1,234,567" {
		t.Errorf("formatCount: %q", got)
	}
	if got := formatSeconds(3725); got != "1h02m" {
		t.Errorf("formatSeconds: %q", got)
	}
}

// TestHTMLComparisonWithRuns: results with repeated runs get medians with
// intervals and a verdict from package stats.
func TestHTMLComparisonWithRuns(t *testing.T) {
	mk := func(name string, p99 float64) *spec.PerformanceTestResult {
		r := &spec.PerformanceTestResult{Name: name, ActualQps: 1000,
			LatenciesMs: &spec.PerformanceTestResult_Latency{P50: p99 / 4, P90: p99 / 2, P99: p99, Max: 2 * p99}}
		for i := range 8 {
			v := p99 * (1 + 0.01*float64(i))
			r.Runs = append(r.Runs, &spec.PerformanceTestResult{ActualQps: 1000,
				Requests:    &spec.PerformanceTestResult_Requests{Total: 1000},
				LatenciesMs: &spec.PerformanceTestResult_Latency{P50: v / 4, P90: v / 2, P99: v, Max: 2 * v}})
		}
		return r
	}
	var buf bytes.Buffer
	if err := WriteHTML(&buf, []*spec.PerformanceTestResult{mk("base", 10), mk("slow", 15)}, Options{}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{"slow vs base", "(8 runs)", `class="worse">&#43;50.0%`, "worse p50 &#43;50.0%"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestHTMLSameVerdictsAndSLOsFirst: the comparison shows each metric's
// change as smp compare does (stats.Comparison.ChangeCell: "~" for a change
// that is not significant after the correction, coloured only when it is),
// and the results' SLO verdicts come before everything else.
func TestHTMLSameVerdictsAndSLOsFirst(t *testing.T) {
	mk := func(name string, p50s ...float64) *spec.PerformanceTestResult {
		r := &spec.PerformanceTestResult{Name: name}
		for _, v := range p50s {
			r.Runs = append(r.Runs, &spec.PerformanceTestResult{ActualQps: 1000,
				Requests:    &spec.PerformanceTestResult_Requests{Total: 1000},
				LatenciesMs: &spec.PerformanceTestResult_Latency{P50: v, P90: 2 * v, P99: 3 * v, Max: 10 * v}})
		}
		return r
	}
	base := mk("base", 1.00, 1.01, 0.99, 1.02, 0.98, 1.00)
	// Raw p = 0.030 at every latency metric, 0.121 after Holm: "~".
	other := mk("other", 1.03, 1.04, 1.025, 1.05, 0.995, 1.035)
	other.SloChecks = []*spec.SLOCheck{{Objective: "p99<3ms", Metric: "p99", Op: "<", Threshold: 3, Measured: 3.1, Unit: "ms", Pass: false}}
	var buf bytes.Buffer
	if err := WriteHTML(&buf, []*spec.PerformanceTestResult{base, other}, Options{}); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	cs, err := stats.CompareAll([]*spec.PerformanceTestResult{base, other}, []string{"base", "other"}, stats.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, mc := range cs[0].Metrics {
		cellText := html.EscapeString(cs[0].ChangeCell(mc))
		row := fmt.Sprintf("<td>%s (%s)</td>", mc.Metric, mc.Metric.Unit())
		i := strings.Index(page, row)
		if i < 0 {
			t.Fatalf("no row %q", row)
		}
		end := i + strings.Index(page[i:], "</tr>")
		if !strings.Contains(page[i:end], "<td>"+cellText+"</td>") {
			t.Errorf("%s: row %s lacks the uncoloured cell %q", mc.Metric, page[i:end], cellText)
		}
	}
	if strings.Contains(page, `class="worse">&#43;3`) || !strings.Contains(page, "no significant difference") {
		t.Error("a change not significant after the correction is coloured, or the verdict differs")
	}
	slo, summary := strings.Index(page, `id="slo"`), strings.Index(page, `id="summary"`)
	if slo < 0 || slo > summary || !strings.Contains(page, "1 objective(s) FAILED") || !strings.Contains(page, "p99 = 3.100 ms") {
		t.Errorf("SLO section at %d, summary at %d", slo, summary)
	}
}
