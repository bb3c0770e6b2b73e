package report

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"fortio.org/fortio/fhttp"
	fstats "fortio.org/fortio/stats"
	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/spec"
)

// bucketOf returns the Fortio bucket holding value v (seconds) and its
// width; the last bucket when v is past the end.
func bucketOf(data []fstats.Bucket, v float64) (fstats.Bucket, float64) {
	for _, b := range data {
		if v <= b.End {
			return b, b.End - b.Start
		}
	}
	b := data[len(data)-1]
	return b, b.End - b.Start
}

// TestFortioReadByFortio writes a result as Fortio JSON and reads it back
// with Fortio's own types: same count, and each percentile Fortio computes
// from the buckets within one bucket of smp's.
func TestFortioReadByFortio(t *testing.T) {
	tests := []struct {
		name string
		s    synth
	}{
		{"sub-millisecond", synth{name: "fast", seconds: 20, rate: 2000, median: 300 * time.Microsecond, sigma: 0.3, seed: 3}},
		{"wide tail", synth{name: "tail", seconds: 30, rate: 500, median: 4 * time.Millisecond, sigma: 1.2, seed: 4,
			errorsAt: map[int]int64{5: 7}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.s.result(t)
			data, err := Fortio(r)
			if err != nil {
				t.Fatal(err)
			}
			var got fhttp.HTTPRunnerResults
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatalf("Fortio's types cannot read it: %v", err)
			}
			h, err := hist.Decode(r.GetHistogram().GetData())
			if err != nil {
				t.Fatal(err)
			}
			dh := got.DurationHistogram
			if dh == nil || dh.Count != h.Count() {
				t.Fatalf("count: got %+v, want %d", dh, h.Count())
			}
			var sum int64
			for _, b := range dh.Data {
				sum += b.Count
			}
			if sum != dh.Count {
				t.Errorf("bucket counts sum to %d, Count %d", sum, dh.Count)
			}
			if got.RunType != "HTTP" || got.NumThreads != 8 || got.ActualQPS != r.GetActualQps() ||
				got.ActualDuration != time.Duration(r.GetDurationS()*1e9) || !got.StartTime.Equal(r.GetStartTime().AsTime()) {
				t.Errorf("run figures: %+v", got.RunnerResults)
			}
			if got.RetCodes[200] != r.GetStatusCodes()[200] {
				t.Errorf("RetCodes %v", got.RetCodes)
			}
			if errs := r.GetRequests().GetErrors(); errs > 0 && got.RetCodes[-1] != errs {
				t.Errorf("RetCodes[-1] = %d, want the %d transport errors", got.RetCodes[-1], errs)
			}
			if math.Abs(dh.Avg-float64(h.Mean())/1e9) > 1e-9 || math.Abs(dh.Max-float64(h.Max())/1e9) > 2e-6 {
				t.Errorf("avg %g max %g, want %v %v", dh.Avg, dh.Max, h.Mean(), h.Max())
			}
			for _, p := range []float64{50, 75, 90, 99, 99.9} {
				want := float64(h.Percentile(p)) / 1e9
				fortio := dh.CalcPercentile(p)
				_, width := bucketOf(dh.Data, want)
				if math.Abs(fortio-want) > width+1e-6 {
					t.Errorf("p%g: Fortio computes %.6fs, smp %.6fs, bucket %.6fs wide", p, fortio, want, width)
				}
				var listed float64
				for _, pc := range dh.Percentiles {
					if pc.Percentile == p {
						listed = pc.Value
					}
				}
				if math.Abs(listed-want) > 1e-9 {
					t.Errorf("p%g listed as %g, want %g", p, listed, want)
				}
			}
			if len(data) > 200<<10 {
				t.Errorf("Fortio JSON is %d bytes", len(data))
			}
		})
	}
}

func TestFortioWithoutHistogram(t *testing.T) {
	r := &spec.PerformanceTestResult{ActualQps: 10, Requests: &spec.PerformanceTestResult_Requests{Total: 100},
		LatenciesMs: &spec.PerformanceTestResult_Latency{Min: 1, Average: 2, P50: 2, P90: 3, P99: 4, Max: 5}}
	data, err := Fortio(r)
	if err != nil {
		t.Fatal(err)
	}
	var got fhttp.HTTPRunnerResults
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	dh := got.DurationHistogram
	if dh.Count != 100 || dh.Max != 0.005 || len(dh.Data) != 0 || len(dh.Percentiles) != 3 || dh.Percentiles[2].Value != 0.004 {
		t.Errorf("summary-only histogram: %+v", dh)
	}
	if _, err := Fortio(&spec.PerformanceTestResult{Histogram: &spec.PerformanceTestResult_Histogram{Data: "HISTFnot"}}); err == nil {
		t.Error("a broken histogram was written")
	}
}
