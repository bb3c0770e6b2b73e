package report

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/internal/fortiojson"
	"github.com/smp-project/smp/spec"
)

// fortioPercentiles are Fortio's default -p percentiles; the result's own
// percentiles_ms are added to them.
func fortioPercentiles() []float64 { return []float64{50, 75, 90, 99, 99.9} }

// bucketRatio is the widest relative span of one exported Fortio bucket.
// HdrHistogram's 3-digit buckets are merged up to 1% wide: Fortio's readers
// interpolate linearly within a bucket, so a percentile read back is within
// 1% of smp's, and a run spanning four decades of latency needs under 1,000
// buckets (about 70 KB of JSON) instead of HdrHistogram's thousands.
const bucketRatio = 1.01

// Fortio returns r as Fortio's HTTPRunnerResults JSON, which Fortio's UI
// and Meshery read. The latency histogram is rebuilt from r's corrected
// HdrHistogram (see bucketRatio); the percentiles are those r states
// (latencies_ms, percentiles_ms), the histogram's for the others. Without
// a histogram only the summary
// figures (count, min, max, average, percentiles) are written and Data is
// empty. Fortio counts failed calls in its histogram while smp leaves
// transport errors out of latency, so DurationHistogram.Count is the number
// of timed requests; transport errors appear in RetCodes under -1, Fortio's
// code for a socket error.
func Fortio(r *spec.PerformanceTestResult) ([]byte, error) {
	if r == nil {
		return nil, fmt.Errorf("fortio: no result")
	}
	h, err := resultHistogram(r)
	if err != nil {
		return nil, fmt.Errorf("fortio: %w", err)
	}
	f := fortiojson.Result{
		RunType:           "HTTP",
		Labels:            resultLabel(r),
		RequestedQPS:      "max",
		RequestedDuration: r.GetConfig().GetDuration(),
		ActualQPS:         r.GetActualQps(),
		ActualDuration:    int64(r.GetDurationS() * 1e9),
		Version:           "smp",
		ID:                firstNonEmpty(r.GetId(), r.GetTestId()),
		RetCodes:          map[int]int64{},
		Sockets:           []int64{},
	}
	if g := r.GetGenerator(); g.GetVersion() != "" {
		f.Version = firstNonEmpty(g.GetName(), "smp") + " " + g.GetVersion()
	}
	if t := r.GetStartTime(); t != nil {
		f.StartTime = t.AsTime()
	}
	if q := r.GetRequestedQps(); q > 0 {
		f.RequestedQPS = strconv.FormatFloat(q, 'g', 9, 64)
	}
	if f.RequestedDuration == "" && r.GetDurationS() > 0 {
		f.RequestedDuration = time.Duration(r.GetDurationS() * 1e9).Round(time.Millisecond).String()
	}
	for _, c := range r.GetConfig().GetClients() {
		f.NumThreads += int(c.GetConnections())
		if f.URL == "" && len(c.GetEndpointUrls()) > 0 {
			f.URL = c.GetEndpointUrls()[0]
			f.ContentType = c.GetContentType()
			f.MethodOverride = c.GetMethod()
			if c.GetBody() != "" {
				f.Payload = []byte(c.GetBody())
			}
			if d, err := time.ParseDuration(c.GetTimeout()); err == nil {
				f.HTTPReqTimeOut = int64(d)
			}
		}
		if c.GetProtocol() == spec.PerformanceTestConfig_Client_PROTOCOL_GRPC {
			f.RunType = "GRPC"
		}
	}
	f.NumConnections = f.NumThreads
	var answered int64
	for code, n := range r.GetStatusCodes() {
		f.RetCodes[int(code)] += n
		answered += n
	}
	if unanswered := r.GetRequests().GetTotal() - answered; unanswered > 0 && len(r.GetStatusCodes()) > 0 {
		f.RetCodes[-1] += unanswered
	}

	ps := percentileList(r)
	if h != nil && h.Count() > 0 {
		f.DurationHistogram = fortioHistogramFrom(h, ps)
		// The percentiles the result states are authoritative: a result
		// imported from Fortio keeps Fortio's own figures in percentiles_ms
		// while its histogram is rebuilt from Fortio's buckets, so a
		// percentile of the histogram may differ from Fortio's within one
		// bucket. Writing the stated ones makes Fortio -> smp -> Fortio
		// keep them; for smp's own results they are the histogram's.
		fh := f.DurationHistogram
		known := statedPercentiles(r)
		for i, p := range fh.Percentiles {
			if v, ok := known[p.Percentile]; ok {
				fh.Percentiles[i].Value = v / 1e3
			}
		}
		// So are its minimum, maximum and average (the histogram keeps
		// microseconds, Fortio nanoseconds).
		if l := r.GetLatenciesMs(); l.GetMax() > 0 && l.GetMin() <= l.GetMax() {
			fh.Min, fh.Max, fh.Avg = l.GetMin()/1e3, l.GetMax()/1e3, l.GetAverage()/1e3
			fh.Sum = fh.Avg * float64(fh.Count)
			if n := len(fh.Data); n > 0 {
				fh.Data[0].Start = math.Min(fh.Min, fh.Data[0].End)
				fh.Data[n-1].End = math.Max(fh.Max, fh.Data[n-1].Start)
			}
		}
	} else {
		f.DurationHistogram = fortioSummary(r, ps)
	}
	// smp has no separate histogram of failed calls' durations; Fortio's
	// readers expect the field, so it is written empty.
	f.ErrorsDurationHistogram = &fortiojson.Histogram{}
	out, err := json.MarshalIndent(&f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("fortio: %w", err)
	}
	return append(out, '\n'), nil
}

// percentileList is Fortio's defaults plus the result's own percentiles,
// sorted and without duplicates.
func percentileList(r *spec.PerformanceTestResult) []float64 {
	seen := map[float64]bool{}
	var ps []float64
	add := func(p float64) {
		if p > 0 && p <= 100 && !seen[p] {
			seen[p] = true
			ps = append(ps, p)
		}
	}
	for _, p := range fortioPercentiles() {
		add(p)
	}
	for _, p := range r.GetPercentilesMs() {
		add(p.GetPercentile())
	}
	sort.Float64s(ps)
	return ps
}

// fortioHistogramFrom rebuilds Fortio's bucket list from an HdrHistogram
// of microseconds, merging adjacent buckets up to bucketRatio wide.
// Percentiles are HdrHistogram's own values, not interpolated.
func fortioHistogramFrom(h *hist.Histogram, ps []float64) *fortiojson.Histogram {
	const s = 1e-6 // µs → s
	total := h.Count()
	fh := &fortiojson.Histogram{
		Count:  total,
		Min:    durUs(h.Min()) * s,
		Max:    durUs(h.Max()) * s,
		Avg:    durUs(h.Mean()) * s,
		StdDev: durUs(h.StdDev()) * s,
	}
	fh.Sum = fh.Avg * float64(total)
	var cum int64
	var cur *fortiojson.Bucket
	var curFrom int64
	flush := func() {
		if cur != nil {
			cum += cur.Count
			cur.Percent = 100 * float64(cum) / float64(total)
			fh.Data = append(fh.Data, *cur)
			cur = nil
		}
	}
	for _, b := range bars(h) {
		if cur != nil && float64(b.To+1) > float64(curFrom)*bucketRatio {
			flush()
		}
		if cur == nil {
			curFrom = b.From
			cur = &fortiojson.Bucket{Start: float64(b.From) * s}
		}
		cur.End = float64(b.To+1) * s
		cur.Count += b.Count
	}
	flush()
	if n := len(fh.Data); n > 0 {
		// Fortio's own export starts the first bucket at the minimum and
		// ends the last at the maximum.
		fh.Data[0].Start = fh.Min
		fh.Data[n-1].End = math.Max(fh.Max, fh.Data[n-1].Start)
		fh.Data[n-1].Percent = 100
	}
	for _, p := range ps {
		fh.Percentiles = append(fh.Percentiles, fortiojson.Percentile{Percentile: p, Value: durUs(h.Percentile(p)) * s})
	}
	return fh
}

// statedPercentiles are the percentiles a result states, in ms:
// latencies_ms p50, p90 and p99, and percentiles_ms over them.
func statedPercentiles(r *spec.PerformanceTestResult) map[float64]float64 {
	known := map[float64]float64{}
	if l := r.GetLatenciesMs(); l != nil {
		known[50], known[90], known[99] = l.GetP50(), l.GetP90(), l.GetP99()
	}
	for _, p := range r.GetPercentilesMs() {
		known[p.GetPercentile()] = p.GetValue()
	}
	return known
}

// fortioSummary writes the figures of a result without a histogram.
func fortioSummary(r *spec.PerformanceTestResult, ps []float64) *fortiojson.Histogram {
	const s = 1e-3 // ms → s
	l := r.GetLatenciesMs()
	fh := &fortiojson.Histogram{
		Count: r.GetRequests().GetTotal(),
		Min:   l.GetMin() * s,
		Max:   l.GetMax() * s,
		Avg:   l.GetAverage() * s,
	}
	fh.Sum = fh.Avg * float64(fh.Count)
	known := statedPercentiles(r)
	for _, p := range ps {
		if v, ok := known[p]; ok {
			fh.Percentiles = append(fh.Percentiles, fortiojson.Percentile{Percentile: p, Value: v * s})
		}
	}
	return fh
}

// resultLabel names a result in one line: its name, else its labels.
func resultLabel(r *spec.PerformanceTestResult) string {
	if r.GetName() != "" {
		return r.GetName()
	}
	keys := make([]string, 0, len(r.GetLabels()))
	for k := range r.GetLabels() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+r.GetLabels()[k])
	}
	return strings.Join(parts, " ")
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
