package stats

import (
	"fmt"
	"math"
	"strings"

	"github.com/smp-project/smp/spec"
)

// Direction tells which way a metric gets worse.
type Direction int

const (
	// HigherIsWorse: latencies and error rate.
	HigherIsWorse Direction = iota
	// LowerIsWorse: throughput.
	LowerIsWorse
)

// Metric is one figure taken from each run of a result, named as on the
// command line and in documents.
type Metric string

// The metrics a comparison reports, in table order.
const (
	P50    Metric = "p50"
	P90    Metric = "p90"
	P99    Metric = "p99"
	P999   Metric = "p99.9"
	Max    Metric = "max"
	QPS    Metric = "qps"    // actual_qps
	Errors Metric = "errors" // error rate in percent
)

// Metrics returns the metrics a comparison reports, in order.
func Metrics() []Metric {
	return []Metric{P50, P90, P99, P999, Max, QPS, Errors}
}

// Unit is the unit of the metric's values: "ms", "req/s" or "%".
func (m Metric) Unit() string {
	switch m {
	case QPS:
		return "req/s"
	case Errors:
		return "%"
	}
	return "ms"
}

// ChangeUnit is the unit of a change between two medians: "%" (relative,
// median(other)/median(base) − 1) for every metric but the error rate, whose
// change is the difference in percentage points, "pp": a relative change of
// a rate that is often 0 says little.
func (m Metric) ChangeUnit() string {
	if m == Errors {
		return "pp"
	}
	return "%"
}

// Worse tells which way the metric gets worse: up for latencies and the
// error rate, down for throughput.
func (m Metric) Worse() Direction {
	if m == QPS {
		return LowerIsWorse
	}
	return HigherIsWorse
}

// ParseMetric finds a metric by its name or an alias (actual_qps, rps,
// error_rate, error-rate, p999), case-insensitively.
func ParseMetric(name string) (Metric, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	switch n {
	case "actual_qps", "rps":
		n = string(QPS)
	case "error_rate", "error-rate":
		n = string(Errors)
	case "p999":
		n = string(P999)
	}
	names := make([]string, 0, 7)
	for _, m := range Metrics() {
		if string(m) == n {
			return m, nil
		}
		names = append(names, string(m))
	}
	return "", fmt.Errorf("unknown metric %q (want one of %s)", name, strings.Join(names, ", "))
}

// Value extracts the metric from one run. ok is false when the run does not
// carry it: a percentile missing from both percentiles_ms and latencies_ms,
// or an error rate without a request count.
//
// Latency percentiles are the corrected ones (from the intended send time).
// percentiles_ms is read first; latencies_ms (p50, p90, p99, max) is the
// fallback for documents from other tools. p99.9 is only in percentiles_ms:
// the histogram is not decoded here. The error rate is
// requests.errors / requests.total, in percent.
func Value(run *spec.PerformanceTestResult, m Metric) (v float64, ok bool) {
	if run == nil {
		return 0, false
	}
	defer func() {
		if math.IsNaN(v) {
			v, ok = 0, false
		}
	}()
	lat := run.GetLatenciesMs()
	if m.Latency() && NoSuccess(run) {
		// Its latency figures describe no answer: missing, never 0 ms.
		return 0, false
	}
	switch m {
	case P50:
		return percentile(run, 50, lat, (*spec.PerformanceTestResult_Latency).GetP50)
	case P90:
		return percentile(run, 90, lat, (*spec.PerformanceTestResult_Latency).GetP90)
	case P99:
		return percentile(run, 99, lat, (*spec.PerformanceTestResult_Latency).GetP99)
	case P999:
		return percentile(run, 99.9, nil, nil)
	case Max:
		if lat != nil {
			return lat.GetMax(), true
		}
		return percentile(run, 100, nil, nil)
	case QPS:
		// actual_qps is a plain proto3 double: 0 is also "not set". Count it
		// as a value when the run has requests or latencies, else absent.
		if run.GetActualQps() != 0 || run.GetRequests().GetTotal() > 0 || lat != nil {
			return run.GetActualQps(), true
		}
		return 0, false
	case Errors:
		req := run.GetRequests()
		if req.GetTotal() <= 0 {
			return 0, false
		}
		return 100 * float64(req.GetErrors()) / float64(req.GetTotal()), true
	}
	return 0, false
}

func percentile(run *spec.PerformanceTestResult, p float64, lat *spec.PerformanceTestResult_Latency,
	get func(*spec.PerformanceTestResult_Latency) float64) (float64, bool) {
	for _, pc := range run.GetPercentilesMs() {
		if math.Abs(pc.GetPercentile()-p) < 1e-9 {
			return pc.GetValue(), true
		}
	}
	if lat != nil && get != nil {
		return get(lat), true
	}
	return 0, false
}

// Runs returns the samples of a result: its runs, or the result itself when
// it has none.
func Runs(r *spec.PerformanceTestResult) []*spec.PerformanceTestResult {
	if r == nil {
		return nil
	}
	if len(r.GetRuns()) > 0 {
		return r.GetRuns()
	}
	return []*spec.PerformanceTestResult{r}
}

// Values extracts the metric from every run that carries it.
func Values(runs []*spec.PerformanceTestResult, m Metric) []float64 {
	var vs []float64
	for _, run := range runs {
		if v, ok := Value(run, m); ok {
			vs = append(vs, v)
		}
	}
	return vs
}

// Summaries computes the across-run summary of every metric the runs carry,
// for PerformanceTestResult.summary: the median and its interval at the
// confidence (0 means DefaultConfidence). A metric no run carries is left
// out. MetricSummary.confidence is the coverage the interval achieves (at
// least the requested confidence: 0.96875 for 6 runs at 95%); when the
// number of runs cannot support an interval, has_interval is false and
// confidence is the requested level that could not be reached.
func Summaries(runs []*spec.PerformanceTestResult, confidence float64) ([]*spec.MetricSummary, error) {
	var out []*spec.MetricSummary
	for _, m := range Metrics() {
		vs := Values(runs, m)
		if len(vs) == 0 {
			continue
		}
		s, err := Summarize(vs, confidence)
		if err != nil {
			return nil, err
		}
		ms := &spec.MetricSummary{
			Metric:     string(m),
			Runs:       int32(s.N),
			Median:     s.Median,
			Confidence: s.Confidence,
			Unit:       m.Unit(),
		}
		if s.HasInterval {
			ms.HasInterval = true
			ms.Low, ms.High = s.Low, s.High
			ms.Confidence = s.CI.Confidence
		}
		out = append(out, ms)
	}
	return out, nil
}

// Latency reports whether the metric is a latency (p50 … max), which only
// successful requests describe.
func (m Metric) Latency() bool {
	switch m {
	case P50, P90, P99, P999, Max:
		return true
	}
	return false
}

// NoSuccess reports whether a run made requests and none succeeded: every
// request failed (errors = total).
// Its latency figures then describe no answer and are treated as missing.
// A result without counts (total 0), or from a tool that gives only the
// total, is not judged.
func NoSuccess(run *spec.PerformanceTestResult) bool {
	req := run.GetRequests()
	if req.GetTotal() <= 0 {
		return false
	}
	// ok == 0 alone proves nothing: documents that count only total and
	// errors leave it out. It counts when ok and errors account for total.
	return req.GetErrors() >= req.GetTotal()
}
