package smprun

import (
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/load"
)

// MergeRuns combines the results of repeated runs of one config into one
// result, the view of all their requests together:
//
//   - counts (requests, errors by reason and code, bytes, late sends,
//     saturation, connections) are summed, and the histograms merged
//     exactly, so that percentiles are those of every request of every run;
//   - Elapsed and Span are the sums of the runs' (pauses and other runs in
//     between are not measured), and ActualQPS the requests over the Span;
//     RequestedQPS is the requested rate weighted by each run's span;
//   - Start is the first run's start and End the last run's end;
//   - the interval series are the runs' series laid end to end, each
//     shifted by the measured time before it;
//   - it is partial when any run is, with that run's reason.
//
// Every run must have the same clients (the same config). The runs are
// not modified.
func MergeRuns(runs []*load.Result) (*load.Result, error) {
	if len(runs) == 0 {
		return nil, errors.New("merge runs: no runs")
	}
	first := runs[0]
	out := &load.Result{
		Start: first.Start, End: runs[len(runs)-1].End,
		Duration: first.Duration, Warmup: first.Warmup, Share: first.Share,
	}
	offsets := make([]time.Duration, len(runs))
	for i, r := range runs {
		if len(r.Clients) != len(first.Clients) {
			return nil, fmt.Errorf("merge runs: run %d has %d clients, run 1 has %d", i+1, len(r.Clients), len(first.Clients))
		}
		offsets[i] = out.Elapsed
		out.Elapsed += r.Elapsed
		out.CPU.User += r.CPU.User
		out.CPU.Sys += r.CPU.Sys
		out.Cores = max(out.Cores, r.Cores)
		out.Span += r.Span
		if r.Partial && !out.Partial {
			out.Partial = true
			out.PartialReason = fmt.Sprintf("run %d of %d: %s", i+1, len(runs), r.PartialReason)
		}
	}
	var err error
	totals := make([]*load.Figures, len(runs))
	for i, r := range runs {
		totals[i] = &r.Total
	}
	if out.Total, err = mergeFigures(totals, runs, offsets, out.Span); err != nil {
		return nil, err
	}
	for c := range first.Clients {
		fs := make([]*load.Figures, len(runs))
		for i, r := range runs {
			fs[i] = &r.Clients[c]
		}
		f, err := mergeFigures(fs, runs, offsets, out.Span)
		if err != nil {
			return nil, err
		}
		out.Clients = append(out.Clients, f)
	}
	return out, nil
}

// mergeFigures merges one client's (or the total's) figures of every run.
func mergeFigures(fs []*load.Figures, runs []*load.Result, offsets []time.Duration, span time.Duration) (load.Figures, error) {
	f0 := fs[0]
	out := load.Figures{
		Name: f0.Name, Protocol: f0.Protocol, Endpoints: f0.Endpoints, Pacer: f0.Pacer, OpenLoop: f0.OpenLoop, Workers: f0.Workers,
		ErrorReasons: map[string]int64{}, Failures: map[int]int64{}, Codes: map[int]int64{},
		Latency: hist.New(), Uncorrected: hist.New(), Lateness: hist.New(), ErrorLatency: hist.New(),
		Connections: load.ConnStats{Setup: hist.New()},
	}
	var requested float64
	for i, f := range fs {
		out.Requests += f.Requests
		out.OK += f.OK
		out.Errors += f.Errors
		out.Bytes += f.Bytes
		out.LateSends += f.LateSends
		out.Scheduled += f.Scheduled
		out.Unsent += f.Unsent
		out.Saturation.Slots += f.Saturation.Slots
		out.Saturation.Wait += f.Saturation.Wait
		out.Saturation.Max = max(out.Saturation.Max, f.Saturation.Max)
		c := f.Connections
		out.Connections.Opened += c.Opened
		out.Connections.Failed += c.Failed
		out.Connections.Reconnects += c.Reconnects
		out.Connections.ReconnectsFailed += c.ReconnectsFailed
		addCounts(out.ErrorReasons, f.ErrorReasons)
		addCounts(out.Failures, f.Failures)
		addCounts(out.Codes, f.Codes)
		for _, h := range []struct{ to, from *hist.Histogram }{
			{out.Latency, f.Latency}, {out.Uncorrected, f.Uncorrected}, {out.Lateness, f.Lateness},
			{out.ErrorLatency, f.ErrorLatency}, {out.Connections.Setup, f.Connections.Setup},
		} {
			if h.from == nil {
				continue
			}
			if err := h.to.Merge(h.from); err != nil {
				return out, fmt.Errorf("merge run %d of %s: %w", i+1, f0.Name, err)
			}
		}
		for _, iv := range f.Intervals {
			iv.Offset += offsets[i]
			out.Intervals = append(out.Intervals, iv)
		}
		if runs != nil {
			requested += f.RequestedQPS * runs[i].Span.Seconds()
		}
		out.ErrorMessages = mergeMessages(out.ErrorMessages, f.ErrorMessages)
		if err := mergeEndpoints(&out, f); err != nil {
			return out, err
		}
	}
	for i := range out.PerEndpoint {
		if s := span.Seconds(); s > 0 {
			out.PerEndpoint[i].ActualQPS = float64(out.PerEndpoint[i].Requests) / s
		}
	}
	if s := span.Seconds(); s > 0 {
		out.ActualQPS = float64(out.Requests) / s
		out.RequestedQPS = requested / s
	}
	return out, nil
}

func addCounts[K comparable](to, from map[K]int64) {
	for k, v := range maps.All(from) {
		to[k] += v
	}
}

// mergeMessages adds the kept error messages of from to to: counts of the
// same message summed, a message new to to appended.
func mergeMessages(to, from map[string][]load.MessageCount) map[string][]load.MessageCount {
	for kind, msgs := range from {
		if to == nil {
			to = map[string][]load.MessageCount{}
		}
	next:
		for _, m := range msgs {
			for i := range to[kind] {
				if to[kind][i].Message == m.Message {
					to[kind][i].Count += m.Count
					continue next
				}
			}
			to[kind] = append(to[kind], m)
		}
	}
	return to
}

// mergeEndpoints adds f's per-endpoint figures to out's, endpoint by
// endpoint (the same config, so the same endpoints in the same order).
func mergeEndpoints(out *load.Figures, f *load.Figures) error {
	for j, e := range f.PerEndpoint {
		if j == len(out.PerEndpoint) {
			out.PerEndpoint = append(out.PerEndpoint, load.EndpointFigures{URL: e.URL, Latency: hist.New(), Uncorrected: hist.New()})
		}
		o := &out.PerEndpoint[j]
		o.Requests += e.Requests
		o.OK += e.OK
		o.Errors += e.Errors
		for _, h := range []struct{ to, from *hist.Histogram }{{o.Latency, e.Latency}, {o.Uncorrected, e.Uncorrected}} {
			if h.from == nil {
				continue
			}
			if err := h.to.Merge(h.from); err != nil {
				return fmt.Errorf("merge endpoint %s: %w", e.URL, err)
			}
		}
	}
	return nil
}
