package store

import (
	"fmt"
	"maps"
	"time"

	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/spec"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// SecondOf turns the engine's progress at the end of one interval into
// the Second to save. ok is false for what is not a second of the
// measured window (the warm-up). Its latency figures need the histogram
// (load.Config.ProgressLatency); without it only P99 is known.
func SecondOf(run int, p load.Progress) (s Second, ok bool, err error) {
	if p.Warmup {
		return Second{}, false, nil
	}
	s = Second{Run: run, OffsetS: p.Elapsed.Seconds(), Requests: p.Requests, Errors: p.Errors,
		ActualQPS: p.Rate, P99: msf(p.P99)}
	if h := p.Latency; h != nil && h.Count() > 0 {
		s.P50, s.P99, s.Max = msf(h.Percentile(50)), msf(h.Percentile(99)), msf(h.Max())
		if s.Histogram, err = h.Encode(); err != nil {
			return Second{}, false, err
		}
	}
	return s, true, nil
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Rebuild makes the partial SMP result of a run that was interrupted from
// what was saved of it: its config, its seconds (of the last run of a
// series) and the latency histogram of its latest second.
func Rebuild(r *Run, secs []Second, histogram string) (*spec.PerformanceTestResult, error) {
	if len(secs) == 0 {
		return nil, fmt.Errorf("run %s has no saved second", r.ID)
	}
	last := secs[len(secs)-1]
	var own []Second // the seconds of the last run
	for _, s := range secs {
		if s.Run == last.Run {
			own = append(own, s)
		}
	}
	res := &spec.PerformanceTestResult{
		SmpVersion: "v0.6.1", Id: r.ID, Name: r.Name, Labels: maps.Clone(r.Labels), Config: r.Config,
		Partial:      true,
		DurationS:    last.OffsetS,
		Requests:     &spec.PerformanceTestResult_Requests{Total: last.Requests, Ok: last.Requests - last.Errors, Errors: last.Errors},
		LatenciesMs:  &spec.PerformanceTestResult_Latency{P50: last.P50, P99: last.P99, Max: last.Max},
		RequestedQps: r.RequestedQPS,
		PartialReason: fmt.Sprintf("the process running it ended after %d saved seconds (%.0f s of the window); "+
			"this result was rebuilt from them", len(own), last.OffsetS),
	}
	if last.Run > 1 {
		res.PartialReason += fmt.Sprintf("; only run %d of the series is kept", last.Run)
	}
	if last.OffsetS > 0 {
		res.ActualQps = float64(last.Requests) / last.OffsetS
	}
	if !r.Started.IsZero() {
		res.StartTime = timestamppb.New(r.Started)
		res.EndTime = timestamppb.New(r.Started.Add(time.Duration(last.OffsetS * float64(time.Second))))
	}
	var prev Second
	for _, s := range own {
		res.Intervals = append(res.Intervals, &spec.PerformanceTestResult_Interval{
			OffsetS: prev.OffsetS, Requests: s.Requests - prev.Requests, Errors: s.Errors - prev.Errors,
			ActualQps: s.ActualQPS, P50Ms: s.P50, P99Ms: s.P99, MaxMs: s.Max,
		})
		prev = s
	}
	if histogram != "" {
		h, err := hist.Decode(histogram)
		if err != nil {
			return nil, err
		}
		res.LatenciesMs = &spec.PerformanceTestResult_Latency{Min: msf(h.Min()), Average: msf(h.Mean()),
			P50: msf(h.Percentile(50)), P90: msf(h.Percentile(90)), P99: msf(h.Percentile(99)), Max: msf(h.Max())}
		ps := load.DefaultPercentiles()
		for i, v := range h.Percentiles(ps) {
			res.PercentilesMs = append(res.PercentilesMs, &spec.PerformanceTestResult_Percentile{Percentile: ps[i], Value: msf(v)})
		}
		res.Histogram = &spec.PerformanceTestResult_Histogram{Encoding: "hdr-v2", Unit: "us", Data: histogram}
	}
	return res, nil
}
