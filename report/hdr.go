package report

import (
	"fmt"
	"time"

	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/spec"
)

// resultHistogram decodes the corrected latency histogram of r, checking
// its declared encoding and unit. It returns nil, nil when r has none.
func resultHistogram(r *spec.PerformanceTestResult) (*hist.Histogram, error) {
	return histogramField(r, func(h *spec.PerformanceTestResult_Histogram) string { return h.GetData() }, "histogram.data")
}

// resultUncorrected decodes the uncorrected latency histogram of r, if any.
func resultUncorrected(r *spec.PerformanceTestResult) (*hist.Histogram, error) {
	return histogramField(r, func(h *spec.PerformanceTestResult_Histogram) string { return h.GetUncorrectedData() }, "histogram.uncorrected_data")
}

func histogramField(r *spec.PerformanceTestResult, get func(*spec.PerformanceTestResult_Histogram) string, path string) (*hist.Histogram, error) {
	hm := r.GetHistogram()
	if hm == nil || get(hm) == "" {
		return nil, nil
	}
	if e := hm.GetEncoding(); e != "" && e != hist.Encoding {
		return nil, fmt.Errorf("histogram.encoding: %q is not supported (allowed: %s)", e, hist.Encoding)
	}
	if u := hm.GetUnit(); u != "" && u != hist.Unit {
		return nil, fmt.Errorf("histogram.unit: %q is not supported (allowed: %s)", u, hist.Unit)
	}
	h, err := hist.Decode(get(hm))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

// bar is one non-empty histogram bucket: values From..To (inclusive, µs).
type bar struct {
	From, To, Count int64
}

// bars returns the non-empty buckets of h in value order, in µs.
func bars(h *hist.Histogram) []bar {
	bs := h.Buckets()
	out := make([]bar, len(bs))
	for i, b := range bs {
		out[i] = bar{From: int64(b.From / time.Microsecond), To: int64(b.To / time.Microsecond), Count: b.Count}
	}
	return out
}

// usToMs converts microseconds to milliseconds.
func usToMs(v float64) float64 { return v / 1000 }

// durMs is d in milliseconds.
func durMs(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// durUs is d in microseconds.
func durUs(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
