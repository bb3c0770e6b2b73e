package smprun

import (
	"context"
	"fmt"
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
