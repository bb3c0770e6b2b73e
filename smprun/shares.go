package smprun

import (
	"errors"
	"fmt"
	"time"

	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/load"
)

// MergeShares combines the results of generators that ran shares of one
// schedule at the same time (agents k of n) into the result of the whole:
//
//   - counts are summed and histograms merged exactly (HdrHistogram merges
//     without loss), so the percentiles are those of every request;
//   - the windows ran together: Span and Elapsed are the longest share's,
//     and rates (actual and requested) are the sums of the shares';
//   - the interval series are merged step by step (the same offsets), the
//     intervals' histograms merged and their percentiles recomputed;
//   - CPU and cores are summed (the generators' together);
//   - it is partial when any share is.
//
// Every share must have the same clients (the same config).
func MergeShares(shares []*load.Result) (*load.Result, error) {
	if len(shares) == 0 {
		return nil, errors.New("merge shares: no results")
	}
	first := shares[0]
	out := &load.Result{Start: first.Start, End: first.End, T0: first.T0, Duration: first.Duration, Warmup: first.Warmup}
	for i, r := range shares {
		if len(r.Clients) != len(first.Clients) {
			return nil, fmt.Errorf("merge shares: share %d has %d clients, share 1 has %d", i+1, len(r.Clients), len(first.Clients))
		}
		if r.Start.Before(out.Start) {
			out.Start, out.T0 = r.Start, r.T0
		}
		if r.End.After(out.End) {
			out.End = r.End
		}
		out.Elapsed = max(out.Elapsed, r.Elapsed)
		out.Span = max(out.Span, r.Span)
		out.CPU.User += r.CPU.User
		out.CPU.Sys += r.CPU.Sys
		out.Cores += r.Cores
		if r.Partial && !out.Partial {
			out.Partial, out.PartialReason = true, r.PartialReason
		}
	}
	totals := make([]*load.Figures, len(shares))
	for i, r := range shares {
		totals[i] = &r.Total
	}
	var err error
	if out.Total, err = mergeConcurrent(totals, out.Span); err != nil {
		return nil, err
	}
	for c := range first.Clients {
		fs := make([]*load.Figures, len(shares))
		for i, r := range shares {
			fs[i] = &r.Clients[c]
		}
		f, err := mergeConcurrent(fs, out.Span)
		if err != nil {
			return nil, err
		}
		out.Clients = append(out.Clients, f)
	}
	return out, nil
}

// mergeConcurrent merges one client's (or the total's) figures of shares
// that ran at the same time.
func mergeConcurrent(fs []*load.Figures, span time.Duration) (load.Figures, error) {
	offsets := make([]time.Duration, len(fs)) // all zero: the windows coincide
	out, err := mergeFigures(fs, nil, offsets, span)
	if err != nil {
		return out, err
	}
	out.Workers = 0
	out.RequestedQPS = 0
	for _, f := range fs {
		out.Workers += f.Workers
		out.RequestedQPS += f.RequestedQPS
	}
	if out.Intervals, err = mergeIntervals(fs); err != nil {
		return out, err
	}
	return out, nil
}

// mergeIntervals merges the series of concurrent shares entry by entry:
// the engine's step is the same for all, so entry i covers the same time.
func mergeIntervals(fs []*load.Figures) ([]load.Interval, error) {
	n := 0
	for _, f := range fs {
		n = max(n, len(f.Intervals))
	}
	out := make([]load.Interval, n)
	for i := range out {
		h := hist.New()
		for _, f := range fs {
			if i >= len(f.Intervals) {
				continue
			}
			iv := f.Intervals[i]
			o := &out[i]
			if o.Length == 0 {
				o.Offset = iv.Offset
			}
			o.Length = max(o.Length, iv.Length)
			o.Requests += iv.Requests
			o.Errors += iv.Errors
			o.ActualQPS += iv.ActualQPS
			o.Latencies += iv.Latencies
			if iv.Histogram != "" {
				d, err := hist.Decode(iv.Histogram)
				if err != nil {
					return nil, fmt.Errorf("merge interval %d: %w", i+1, err)
				}
				if err := h.Merge(d); err != nil {
					return nil, fmt.Errorf("merge interval %d: %w", i+1, err)
				}
			}
		}
		if h.Count() > 0 {
			o := &out[i]
			o.P50, o.P99, o.Max = h.Percentile(50), h.Percentile(99), h.Max()
			enc, err := h.Encode()
			if err != nil {
				return nil, err
			}
			o.Histogram = enc
		}
	}
	return out, nil
}
