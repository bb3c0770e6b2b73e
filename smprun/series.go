package smprun

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/stats"
)

// MaxRuns bounds SeriesOptions.Runs: a series is for statistics over runs,
// and a result holds every run.
const MaxRuns = 1000

// Variant is one configuration of a series: a baseline, a mesh, a filter...
type Variant struct {
	// Name names the variant in results (the result's name), file names
	// and comparisons; it may be empty for a series of one variant.
	Name   string
	Config *spec.PerformanceTestConfig
	Plan   PlanOptions
	Result ResultOptions
	// runner is SeriesOptions.Runner for the series' runs.
	runner Runner
}

// RunInfo says which run of a series is going on.
type RunInfo struct {
	Variant   string // the variant's name
	Run, Runs int    // 1-based run of the variant, of Runs
}

func (ri RunInfo) String() string {
	if ri.Variant == "" {
		return fmt.Sprintf("run %d/%d", ri.Run, ri.Runs)
	}
	return fmt.Sprintf("%s %d/%d", ri.Variant, ri.Run, ri.Runs)
}

// SeriesOptions say how a series runs.
type SeriesOptions struct {
	// Runs is how many times each variant runs; 0 means 1.
	Runs int
	// Pause is the wait between two consecutive runs (of any variant),
	// e.g. to let the target settle.
	Pause time.Duration
	// Progress, if set, gets the engine's progress snapshots with the run
	// they belong to (it replaces each variant's PlanOptions.Progress).
	Progress func(RunInfo, load.Progress)
	// Metrics, if set, gets the same snapshots as Progress (for live
	// metrics, beside a progress line).
	Metrics func(RunInfo, load.Progress)
	// Note, if set, is told what the plans note (ignored options...),
	// once per variant, before the first run.
	Note func(variant, note string)
	// Confidence of the across-run summaries; 0 means 95%.
	Confidence float64
	// Order of the variants within each round: OrderRandom (also "") or
	// OrderAlternate. Seed seeds the random order; 0 draws one (NewSeed).
	// Both go into every variant's result (run_order) when there are
	// several variants, so that a series can be run again in its order.
	Order string
	Seed  uint64
	// Runner, if set, runs each run in place of the local engine: a
	// coordinator of remote agents (package agent). It gets the variant's
	// config and plan options (with Progress set) and returns the whole
	// run's result; errors mean what NewPlan's and the engine's mean.
	Runner Runner
	// Capture says which resources are sampled during each run (the
	// generator's own always are); the figures go to the result's
	// resources, and what could not be captured to its captures.
	Capture CaptureOptions
	// Describe, if set, describes the environment once before the first
	// run (host, cluster, mesh); its description goes on every result.
	Describe func(context.Context) Environment
}

// Runner runs one run of a config somewhere else than in this process.
type Runner func(ctx context.Context, cfg *spec.PerformanceTestConfig, po PlanOptions) (*load.Result, error)

// VariantResult is what a series measured for one variant.
type VariantResult struct {
	Name string
	// Runs are the engine's results of each run, in order.
	Runs []*load.Result
	// Load is the runs merged (MergeRuns); with one run, the run itself.
	Load *load.Result
	// Result is the SMP result. With one run it is that run's result.
	// With several, its top-level figures are those of Load (every request
	// of every run: percentiles of the merged histograms, rates over the
	// sum of the measured windows), runs holds each run's own result, and
	// summary the median of each metric across runs with its
	// distribution-free interval (stats.Summaries; none below 6 runs at
	// 95%).
	Result *spec.PerformanceTestResult
}

// RunSeries runs every variant opts.Runs times, in rounds of one run of
// each variant (with opts.Pause between consecutive runs), so that drift of
// the machine or the target over time affects every variant alike, and
// returns one VariantResult per variant, in order. Within each round the
// order is random and balanced (Schedule, OrderRandom) unless
// opts.Order is OrderAlternate.
//
// Every variant's plan is built before the first run, so that bad input
// in any of them is reported (load.ErrInvalid) before anything runs; each
// run then gets a plan of its own, with fresh connections and TLS
// sessions, so that the runs are alike.
//
// When ctx is cancelled, the series stops: the run in progress is kept as
// a partial run, and the vrs (of the variants that ran at least once)
// are marked partial, with a nil error. When a run after the first cannot
// start (the target went away), the series stops too and RunSeries
// returns the vrs so far, marked partial, with the run's error. When
// nothing could run, the vrs are nil.
func RunSeries(ctx context.Context, variants []Variant, o SeriesOptions) ([]*VariantResult, error) {
	if len(variants) == 0 {
		return nil, invalid("no variants to run")
	}
	runs := max(o.Runs, 1)
	if runs > MaxRuns {
		return nil, invalid("%d runs: at most %d", runs, MaxRuns)
	}
	if o.Pause < 0 {
		return nil, invalid("pause must not be negative, got %v", o.Pause)
	}
	order, err := CheckOrder(o.Order)
	if err != nil {
		return nil, err
	}
	seed := o.Seed
	if order == OrderRandom && seed == 0 {
		seed = NewSeed()
	}
	if order == OrderAlternate {
		seed = 0
	}
	schedule, err := Schedule(len(variants), runs, order, seed)
	if err != nil {
		return nil, err
	}
	if err := o.Capture.Check(); err != nil {
		return nil, err
	}
	for _, v := range variants {
		p, err := NewPlan(ctx, v.Config, v.Plan)
		if err != nil {
			if len(variants) > 1 {
				return nil, fmt.Errorf("variant %s: %w", v.Name, err)
			}
			return nil, err
		}
		p.Close()
		if o.Note != nil {
			for _, n := range p.Notes {
				o.Note(v.Name, n)
			}
		}
	}

	var env Environment
	if o.Describe != nil {
		env = o.Describe(ctx)
	}
	done := make([][]*load.Result, len(variants))
	caps := make([][]*captured, len(variants))
	var stopped error // why the series stopped early
	var sequence []string
	first := true
series:
	for r := 1; r <= runs; r++ {
		for _, i := range schedule[r-1] {
			v := variants[i]
			if !first && o.Pause > 0 {
				if err := sleep(ctx, o.Pause); err != nil {
					stopped = err
					break series
				}
			}
			wasFirst := first
			first = false
			if o.Metrics != nil {
				v.Plan.ProgressLatency = true
			}
			if o.Runner != nil {
				v.runner = o.Runner
			}
			res, c, err := withCapture(ctx, o.Capture, func() (*load.Result, error) {
				return runOnce(ctx, v, RunInfo{Variant: v.Name, Run: r, Runs: runs}, o.progress())
			})
			if err != nil {
				if wasFirst {
					if len(variants) > 1 {
						err = fmt.Errorf("variant %s: %w", v.Name, err)
					}
					return nil, err
				}
				if ctx.Err() == nil {
					stopped = fmt.Errorf("%s: %w", RunInfo{Variant: v.Name, Run: r, Runs: runs}, err)
					break series
				}
				stopped = context.Cause(ctx)
				break series
			}
			done[i] = append(done[i], res)
			sequence = append(sequence, v.Name)
			caps[i] = append(caps[i], c)
			if res.Partial && ctx.Err() != nil {
				stopped = context.Cause(ctx)
				break series
			}
		}
	}

	var out []*VariantResult
	for i, v := range variants {
		if len(done[i]) == 0 {
			continue
		}
		vr, err := variantResult(v, done[i], runs, o.Confidence)
		if err != nil {
			return out, err
		}
		if len(variants) > 1 {
			vr.Result.RunOrder = &spec.PerformanceTestResult_RunOrder{Order: order, Seed: seed, Sequence: sequence}
		}
		attachCaptured(vr.Result, caps[i])
		env.attach(vr.Result)
		if stopped != nil && !vr.Result.Partial {
			reason := fmt.Sprintf("stopped after %d of %d runs: %v", len(done[i]), runs, stopped)
			vr.Load.Partial, vr.Load.PartialReason = true, reason
			vr.Result.Partial, vr.Result.PartialReason = true, reason
		}
		out = append(out, vr)
	}
	if stopped != nil && ctx.Err() == nil {
		return out, stopped
	}
	return out, nil
}

// progress is the callback of Progress and Metrics together.
func (o SeriesOptions) progress() func(RunInfo, load.Progress) {
	if o.Metrics == nil {
		return o.Progress
	}
	return func(ri RunInfo, p load.Progress) {
		if o.Progress != nil {
			o.Progress(ri, p)
		}
		o.Metrics(ri, p)
	}
}

// runOnce runs one variant once with a plan of its own.
func runOnce(ctx context.Context, v Variant, ri RunInfo, progress func(RunInfo, load.Progress)) (*load.Result, error) {
	po := v.Plan
	if progress != nil {
		po.Progress = func(p load.Progress) { progress(ri, p) }
	}
	if v.runner != nil {
		return v.runner(ctx, v.Config, po)
	}
	plan, err := NewPlan(ctx, v.Config, po)
	if err != nil {
		return nil, err
	}
	defer plan.Close()
	return plan.run(ctx)
}

// variantResult builds a variant's result from its runs. planned is the number
// of runs asked for: a series of one run gives a plain result.
func variantResult(v Variant, runs []*load.Result, planned int, confidence float64) (*VariantResult, error) {
	vr := &VariantResult{Name: v.Name, Runs: runs}
	ro := v.Result
	if planned == 1 {
		vr.Load = runs[0]
		r, err := ToSMP(runs[0], v.Config, ro)
		if err != nil {
			return nil, fmt.Errorf("convert the result: %w", err)
		}
		vr.Result = r
		if v.Name != "" {
			r.Name = v.Name
		}
		return vr, nil
	}
	merged, err := MergeRuns(runs)
	if err != nil {
		return nil, err
	}
	for i, r := range runs {
		if r.Partial {
			merged.PartialReason = fmt.Sprintf("run %d of %d: %s", i+1, planned, r.PartialReason)
			break
		}
	}
	vr.Load = merged
	if vr.Result, err = ToSMP(merged, v.Config, ro); err != nil {
		return nil, fmt.Errorf("convert the result: %w", err)
	}
	if v.Name != "" {
		vr.Result.Name = v.Name
	}
	for i, run := range runs {
		rr, err := ToSMP(run, v.Config, ResultOptions{Generator: ro.Generator, Percentiles: ro.Percentiles})
		if err != nil {
			return nil, fmt.Errorf("convert run %d: %w", i+1, err)
		}
		// A run's entry holds its measurements; what every run shares
		// (config, labels, mesh, version) is in the result around it.
		rr.SmpVersion, rr.Config, rr.Labels, rr.Mesh, rr.Name, rr.TestId = "", nil, nil, nil, "", ""
		vr.Result.Runs = append(vr.Result.Runs, rr)
	}
	if vr.Result.Summary, err = stats.Summaries(vr.Result.Runs, confidence); err != nil {
		return nil, fmt.Errorf("summarise the runs: %w", err)
	}
	return vr, nil
}

// attachCaptured puts each run's figures on its entry in runs and the runs'
// merged figures (with one run, its own) on the result.
func attachCaptured(r *spec.PerformanceTestResult, runs []*captured) {
	if len(runs) == 0 {
		return
	}
	for i, rr := range r.GetRuns() {
		if i < len(runs) {
			rr.Resources = append(rr.Resources, runs[i].figures...)
			rr.Captures = append(rr.Captures, runs[i].captures...)
		}
	}
	c := runs[0]
	if len(runs) > 1 {
		c = mergeCaptured(runs)
	}
	r.Resources = append(r.Resources, c.figures...)
	r.Captures = append(r.Captures, c.captures...)
}

// sleep waits d or until ctx is done, returning the cause then.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Compare compares every variant with the first (the baseline), metric by
// metric over their runs, as smp compare does with their result files.
func Compare(vrs []*VariantResult, opt stats.Options) ([]*stats.Comparison, error) {
	if len(vrs) < 2 {
		return nil, errors.New("compare: needs a baseline and at least one other variant")
	}
	results := make([]*spec.PerformanceTestResult, len(vrs))
	names := make([]string, len(vrs))
	for i, vr := range vrs {
		results[i], names[i] = vr.Result, vr.Name
	}
	return stats.CompareAll(results, names, opt)
}
