package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/smp-project/smp/spec"
)

// SpectrumPercentiles are the percentiles WritePercentilesCSV writes when
// the result has a histogram: enough points to draw the spectrum.
func SpectrumPercentiles() []float64 {
	return []float64{0, 10, 20, 25, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95, 97.5, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100}
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// WriteIntervalsCSV writes the time series of each result, one row per
// interval: name, offset_s, requests, errors, actual_qps, p50_ms, p99_ms,
// max_ms. Latencies are corrected (from the intended send time); they are
// empty for an interval in which nothing was answered.
func WriteIntervalsCSV(w io.Writer, results []*spec.PerformanceTestResult, names []string) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"name", "offset_s", "requests", "errors", "actual_qps", "p50_ms", "p99_ms", "max_ms"})
	for i, r := range results {
		name := resultName(r, names, i)
		counted := countsLatencies(r.GetIntervals())
		for _, iv := range r.GetIntervals() {
			p50, p99, maxv := "", "", ""
			if answered(iv, counted) {
				p50, p99, maxv = formatFloat(iv.GetP50Ms()), formatFloat(iv.GetP99Ms()), formatFloat(iv.GetMaxMs())
			}
			_ = cw.Write([]string{name, formatFloat(iv.GetOffsetS()),
				strconv.FormatInt(iv.GetRequests(), 10), strconv.FormatInt(iv.GetErrors(), 10),
				formatFloat(iv.GetActualQps()), p50, p99, maxv})
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("intervals csv: %w", err)
	}
	return nil
}

// WritePercentilesCSV writes the latency percentiles of each result: name,
// percentile, value_ms (corrected) and uncorrected_ms (empty when the
// result has no uncorrected histogram). With a histogram the values are
// read from it at SpectrumPercentiles; without one they are the result's
// percentiles_ms, else its latencies_ms.
func WritePercentilesCSV(w io.Writer, results []*spec.PerformanceTestResult, names []string) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"name", "percentile", "value_ms", "uncorrected_ms"})
	for i, r := range results {
		name := resultName(r, names, i)
		h, err := resultHistogram(r)
		if err != nil {
			return fmt.Errorf("percentiles csv: %s: %w", name, err)
		}
		u, err := resultUncorrected(r)
		if err != nil {
			return fmt.Errorf("percentiles csv: %s: %w", name, err)
		}
		if h != nil && h.Count() > 0 {
			for _, p := range SpectrumPercentiles() {
				unc := ""
				if u != nil && u.Count() > 0 {
					unc = formatFloat(durMs(u.Percentile(p)))
				}
				_ = cw.Write([]string{name, formatFloat(p), formatFloat(durMs(h.Percentile(p))), unc})
			}
			continue
		}
		for _, pv := range summaryPercentiles(r) {
			_ = cw.Write([]string{name, formatFloat(pv.p), formatFloat(pv.v), ""})
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("percentiles csv: %w", err)
	}
	return nil
}

type pv struct{ p, v float64 }

// summaryPercentiles are the percentiles a result states without a
// histogram: percentiles_ms, else latencies_ms's min, p50, p90, p99, max.
func summaryPercentiles(r *spec.PerformanceTestResult) []pv {
	var out []pv
	for _, p := range r.GetPercentilesMs() {
		out = append(out, pv{p.GetPercentile(), p.GetValue()})
	}
	if len(out) > 0 {
		return out
	}
	if l := r.GetLatenciesMs(); l != nil {
		out = append(out, pv{0, l.GetMin()}, pv{50, l.GetP50()}, pv{90, l.GetP90()}, pv{99, l.GetP99()}, pv{100, l.GetMax()})
	}
	return out
}
