package report

import (
	"fmt"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/spec"
)

// maxEncodedHistogram bounds the encodings decoded here, as hist.Decode
// does: a real smp histogram compresses to far less.
const maxEncodedHistogram = 4 << 20

// decodeHistogram decodes one "hdr-v2" histogram of a result. It checks the
// geometry against package hist's, so that percentiles mean the same thing
// as everywhere else in smp. An empty string decodes to nil without error.
func decodeHistogram(data string) (*hdr.Histogram, error) {
	if data == "" {
		return nil, nil
	}
	if len(data) > maxEncodedHistogram {
		return nil, fmt.Errorf("histogram encoding of %d bytes is more than the %d accepted", len(data), maxEncodedHistogram)
	}
	h, err := hdr.Decode([]byte(data))
	if err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	if h.LowestTrackableValue() != hist.Lowest || h.HighestTrackableValue() != hist.Highest ||
		int(h.SignificantFigures()) != hist.SignificantDigits {
		return nil, fmt.Errorf("decode histogram: %w: got %d .. %d us, %d digits", hist.ErrGeometry,
			h.LowestTrackableValue(), h.HighestTrackableValue(), h.SignificantFigures())
	}
	return h, nil
}

// resultHistogram decodes the corrected latency histogram of r, checking
// its declared encoding and unit. It returns nil, nil when r has none.
func resultHistogram(r *spec.PerformanceTestResult) (*hdr.Histogram, error) {
	return histogramField(r, func(h *spec.PerformanceTestResult_Histogram) string { return h.GetData() }, "histogram.data")
}

// resultUncorrected decodes the uncorrected latency histogram of r, if any.
func resultUncorrected(r *spec.PerformanceTestResult) (*hdr.Histogram, error) {
	return histogramField(r, func(h *spec.PerformanceTestResult_Histogram) string { return h.GetUncorrectedData() }, "histogram.uncorrected_data")
}

func histogramField(r *spec.PerformanceTestResult, get func(*spec.PerformanceTestResult_Histogram) string, path string) (*hdr.Histogram, error) {
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
	h, err := decodeHistogram(get(hm))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

// bar is one non-empty HdrHistogram bucket: values From..To (inclusive, µs).
type bar struct {
	From, To, Count int64
}

// bars returns the non-empty buckets of h in value order. The walk is
// bounded by the histogram's bucket count (about 23,500 for smp's
// geometry).
func bars(h *hdr.Histogram) []bar {
	var out []bar
	for _, b := range h.Distribution() {
		if b.Count > 0 {
			out = append(out, bar{From: b.From, To: b.To, Count: b.Count})
		}
	}
	return out
}

// usToMs converts microseconds to milliseconds.
func usToMs(v float64) float64 { return v / 1000 }
