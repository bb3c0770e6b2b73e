package smprun

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/spec"
)

// Execute runs cfg once and returns the engine's result and the SMP
// result. Errors wrap load.ErrInvalid (bad input), or are a *StartError
// wrapping load.ErrUnreachable (no endpoint answered at the start:
// refused, untrusted, silent...); a cancelled ctx still returns the
// partial results.
func Execute(ctx context.Context, cfg *spec.PerformanceTestConfig, po PlanOptions, ro ResultOptions) (*load.Result, *spec.PerformanceTestResult, error) {
	res, err := runOnce(ctx, Variant{Config: cfg, Plan: po}, RunInfo{Run: 1, Runs: 1}, nil)
	if err != nil {
		return nil, nil, err
	}
	out, err := ToSMP(res, cfg, ro)
	if err != nil {
		return res, nil, fmt.Errorf("convert the result: %w", err)
	}
	return res, out, nil
}

// ProgressLine formats a progress snapshot for a terminal status line.
func ProgressLine(p load.Progress) string {
	if p.Warmup {
		return fmt.Sprintf("warming up %5.1fs", p.Elapsed.Seconds())
	}
	return fmt.Sprintf("%5.1fs/%s  %9.1f req/s  %d requests  %d errors  p99 %.3f ms",
		p.Elapsed.Seconds(), p.Duration.Round(time.Second), p.Rate, p.Requests, p.Errors,
		float64(p.P99)/float64(time.Millisecond))
}

// LogProgress returns a progress callback for a log rather than a
// terminal (a CI job's output): a full line every `every` of a run's
// measured time, so that a long run shows it is moving without a line a
// second. With tagged set, each line names its variant and run.
func LogProgress(w io.Writer, every time.Duration, tagged bool) func(RunInfo, load.Progress) {
	var mu sync.Mutex
	next := map[string]time.Duration{}
	return func(ri RunInfo, p load.Progress) {
		if p.Warmup {
			return
		}
		key := ri.String()
		mu.Lock()
		defer mu.Unlock()
		if p.Elapsed < next[key]+every {
			return
		}
		next[key] = p.Elapsed / every * every
		line := ProgressLine(p)
		if tagged {
			line = "[" + key + "] " + line
		}
		fmt.Fprintf(w, "smp: %s\n", line)
	}
}
