package lab

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/smp-project/smp/smprun"
	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/stats"
)

// Options are how an experiment runs.
type Options struct {
	// Dir is the experiment file's directory ({dir}, and where commands
	// run); SMP the smp binary ({smp}).
	Dir, SMP string
	// Log, if set, gets a line per step (a run, a readiness wait).
	Log func(string)
	// ReadyTimeout bounds each readiness wait (default 30s).
	ReadyTimeout time.Duration
}

// Result is what an experiment measured.
type Result struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Started     time.Time `json:"started"`
	Finished    time.Time `json:"finished"`
	Baseline    string    `json:"baseline"`
	Runs        int       `json:"runs"`
	Order       string    `json:"order"`
	// Seed is the order's seed: with it, `seed:` in the file repeats the
	// experiment in the same order.
	Seed       uint64           `json:"seed"`
	Levels     []LevelResult    `json:"levels,omitempty"`
	Capacities []CapacityResult `json:"capacities,omitempty"`
	// Partial is set when the experiment stopped before its end; what was
	// measured is kept.
	Partial       bool   `json:"partial,omitempty"`
	PartialReason string `json:"partial_reason,omitempty"`
}

// LevelResult is one load level: each variant's SMP result (its runs and
// their summary) and the comparisons with the baseline.
type LevelResult struct {
	Rate     float64        `json:"rate"`
	Variants []VariantLevel `json:"variants"`
	// Comparisons are stats.Comparison in `smp compare --format json`.
	Comparisons json.RawMessage `json:"comparisons,omitempty"`
	cmps        []*stats.Comparison
}

// VariantLevel is a variant's result at a level.
type VariantLevel struct {
	Name string `json:"name"`
	// Result is the SMP result document (JSON).
	Result json.RawMessage `json:"result"`
	smp    *spec.PerformanceTestResult
}

// SMP returns the variant's SMP result.
func (v *VariantLevel) SMP() (*spec.PerformanceTestResult, error) {
	if v.smp != nil {
		return v.smp, nil
	}
	doc, err := spec.Load(v.Result, v.Name+".json")
	if err != nil {
		return nil, err
	}
	v.smp = doc.Result
	return v.smp, nil
}

// Run runs the experiment: starts what it needs, runs every level in
// randomized balanced order and the capacity searches, compares, and
// stops what it started (also when ctx is cancelled, returning what was
// measured as a partial result).
func Run(ctx context.Context, e *Experiment, o Options) (res *Result, err error) {
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = 30 * time.Second
	}
	logf := func(format string, a ...any) {
		if o.Log != nil {
			o.Log(fmt.Sprintf(format, a...))
		}
	}
	tmp, err := os.MkdirTemp("", "smp-lab-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if o.SMP == "" {
		if o.SMP, err = os.Executable(); err != nil {
			return nil, err
		}
	}
	// {dir} is absolute: commands run in it, and may cd elsewhere.
	dir, err := filepath.Abs(cmp.Or(o.Dir, "."))
	if err != nil {
		return nil, err
	}
	p := &procs{dir: dir, tmp: tmp, smp: o.SMP}
	r := &Result{Name: e.Name, Description: e.Description, Started: time.Now(), Baseline: e.Baseline, Runs: e.Runs, Seed: e.Seed}
	res = r
	r.Order, _ = smprun.CheckOrder(e.Order)
	if r.Order == smprun.OrderRandom && r.Seed == 0 {
		r.Seed = smprun.NewSeed()
	}
	defer func() {
		p.stopAll()
		for _, v := range e.Variants {
			for i, c := range v.Teardown {
				if terr := p.run(context.WithoutCancel(ctx), fmt.Sprintf("%s-teardown-%d", v.Name, i+1), c); terr != nil && err == nil {
					err = terr
				}
			}
		}
		r.Finished = time.Now()
	}()

	for i, c := range e.Start {
		if err := p.start(fmt.Sprintf("start-%d", i+1), c); err != nil {
			return nil, err
		}
	}
	for _, v := range e.Variants {
		for i, c := range v.Setup {
			if err := p.run(ctx, fmt.Sprintf("%s-setup-%d", v.Name, i+1), c); err != nil {
				return nil, err
			}
		}
		for i, c := range v.Start {
			if err := p.start(fmt.Sprintf("%s-start-%d", v.Name, i+1), c); err != nil {
				return nil, err
			}
		}
	}
	ready := append([]string{}, e.Ready...)
	for _, v := range e.Variants {
		r := v.Ready
		if r == "" {
			r = v.Endpoint
		}
		ready = append(ready, r)
	}
	for _, r := range ready {
		logf("waiting for %s", r)
		if err := p.waitReady(ctx, r, o.ReadyTimeout); err != nil {
			return nil, fmt.Errorf("not ready: %w", err)
		}
	}

	for li, rate := range e.Levels.Rates {
		logf("level %g/s: %d variants × %d runs", rate, len(e.Variants), e.Runs)
		lr, err := runLevel(ctx, e, rate, res.Seed+uint64(li), logf)
		if lr != nil {
			res.Levels = append(res.Levels, *lr)
		}
		if err != nil {
			return stopped(res, err)
		}
		if err := p.exited(); err != nil {
			return stopped(res, err)
		}
	}
	if c := e.Levels.Capacity; c != nil {
		for _, v := range e.Variants {
			logf("capacity of %s", v.Name)
			cr, err := searchCapacity(ctx, e, &v, c, logf)
			if cr != nil {
				res.Capacities = append(res.Capacities, *cr)
			}
			if err != nil {
				return stopped(res, err)
			}
			if err := p.exited(); err != nil {
				return stopped(res, err)
			}
		}
	}
	return res, nil
}

// stopped returns what was measured when the experiment could not go on:
// partial when it has anything, the error otherwise.
func stopped(res *Result, err error) (*Result, error) {
	if len(res.Levels) == 0 && len(res.Capacities) == 0 {
		return nil, err
	}
	res.Partial, res.PartialReason = true, err.Error()
	return res, nil
}

// config is the SMP test config of a variant at a rate.
func config(e *Experiment, v *Variant, rate float64, d time.Duration) (*spec.PerformanceTestConfig, error) {
	conns, dur, warm := e.Connections, d, time.Duration(e.Warmup)
	var headers []string
	for k, val := range v.Headers {
		headers = append(headers, k+": "+val)
	}
	name := e.Name + "/" + v.Name
	s := smprun.Settings{URLs: []string{v.Endpoint}, QPS: &rate, Connections: &conns, Duration: &dur, Warmup: &warm, Headers: headers, Name: &name}
	if e.Timeout > 0 {
		t := time.Duration(e.Timeout)
		s.Timeout = &t
	}
	return smprun.ApplySettings(nil, s)
}

func runLevel(ctx context.Context, e *Experiment, rate float64, seed uint64, logf func(string, ...any)) (*LevelResult, error) {
	var vs []smprun.Variant
	for i := range e.Variants {
		v := &e.Variants[i]
		cfg, err := config(e, v, rate, time.Duration(e.Duration))
		if err != nil {
			return nil, fmt.Errorf("variant %s: %w", v.Name, err)
		}
		vs = append(vs, smprun.Variant{Name: v.Name, Config: cfg, Result: smprun.ResultOptions{Generator: smprun.ThisGenerator(),
			Labels: map[string]string{"experiment": e.Name, "variant": v.Name, "rate": fmt.Sprint(rate)}}})
	}
	order := e.Order
	if len(vs) == 1 {
		order = smprun.OrderAlternate
	}
	vrs, err := smprun.RunSeries(ctx, vs, smprun.SeriesOptions{Runs: e.Runs, Pause: time.Duration(e.Pause), Order: order, Seed: seed})
	lr := &LevelResult{Rate: rate}
	for _, vr := range vrs {
		b, jerr := spec.Encode(vr.Result, "json")
		if jerr != nil {
			return nil, jerr
		}
		lr.Variants = append(lr.Variants, VariantLevel{Name: vr.Name, Result: b, smp: vr.Result})
		logf("  %s at %g/s: %d requests, p99 %s ms", vr.Name, rate, vr.Result.GetRequests().GetTotal(), p99Text(vr.Result))
	}
	if err != nil {
		if len(lr.Variants) == 0 {
			return nil, err
		}
		return lr, err
	}
	if err := lr.compare(e.Baseline); err != nil {
		return lr, err
	}
	return lr, nil
}

func p99Text(r *spec.PerformanceTestResult) string {
	if v, ok := stats.Value(r, stats.P99); ok {
		return stats.FormatValue(v)
	}
	return "n/a"
}

// runsOf is a result's runs, or the result itself with one run.
func runsOf(r *spec.PerformanceTestResult) []*spec.PerformanceTestResult {
	if len(r.GetRuns()) > 0 {
		return r.GetRuns()
	}
	return []*spec.PerformanceTestResult{r}
}

// compare compares every variant with the baseline.
func (lr *LevelResult) compare(baseline string) error {
	var base *spec.PerformanceTestResult
	for _, v := range lr.Variants {
		if v.Name == baseline {
			base = v.smp
		}
	}
	if base == nil {
		return nil
	}
	for _, v := range lr.Variants {
		if v.Name == baseline {
			continue
		}
		c, err := stats.Compare(runsOf(base), runsOf(v.smp), stats.Options{})
		if err != nil {
			return fmt.Errorf("compare %s with %s at %g/s: %w", v.Name, baseline, lr.Rate, err)
		}
		c.BaseName, c.OtherName = baseline, v.Name
		lr.cmps = append(lr.cmps, c)
	}
	if len(lr.cmps) == 0 {
		return nil
	}
	var b bytes.Buffer
	if err := stats.WriteComparisons(&b, lr.cmps, "json"); err != nil {
		return err
	}
	lr.Comparisons = json.RawMessage(b.Bytes())
	return nil
}
