package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/spec"
)

// Series saves the variants of a series as it runs (`smp run --store`):
// one stored run per variant, its seconds saved as they are measured and
// its result when the series ends.
type Series struct {
	s    Store
	runs map[string]*Run // by variant name
	recs map[string]*Recorder
}

// Variant is one variant of a series to store.
type Variant struct {
	Name   string
	Config *spec.PerformanceTestConfig
}

// BeginSeries stores a running run for each variant.
func BeginSeries(ctx context.Context, s Store, vs []Variant) (*Series, error) {
	ss := &Series{s: s, runs: map[string]*Run{}, recs: map[string]*Recorder{}}
	for _, v := range vs {
		r := &Run{Name: v.Name, Config: v.Config, State: Running}
		if r.Name == "" {
			r.Name = v.Config.GetName()
		}
		if err := s.CreateRun(ctx, r); err != nil {
			return nil, err
		}
		if err := s.StartRun(ctx, r.ID, r.Created); err != nil {
			return nil, err
		}
		ss.runs[v.Name], ss.recs[v.Name] = r, NewRecorder(s, r.ID)
	}
	return ss, nil
}

// Progress saves a second of a variant's run.
func (ss *Series) Progress(variant string, run int, p load.Progress) {
	if rec := ss.recs[variant]; rec != nil {
		rec.Progress(run, p)
	}
}

// Finish stores each variant's result (by name; a variant without one
// failed, with runErr as its message) and returns the stored ids.
func (ss *Series) Finish(ctx context.Context, results map[string]*spec.PerformanceTestResult, runErr error) ([]string, error) {
	var errs []error
	var ids []string
	for name, r := range ss.runs {
		if err := ss.recs[name].Close(); err != nil {
			errs = append(errs, err)
		}
		res := results[name]
		state, msg := Done, ""
		switch {
		case res == nil:
			state, msg = Failed, "the run did not finish"
			if runErr != nil {
				msg = runErr.Error()
			}
		default:
			msg = res.GetPartialReason() // the result's partial flag is stored with it
		}
		if err := ss.s.FinishRun(ctx, r.ID, state, res, msg); err != nil {
			errs = append(errs, err)
			continue
		}
		ids = append(ids, r.ID)
	}
	if err := errors.Join(errs...); err != nil {
		return ids, fmt.Errorf("store: saving the series: %w", err)
	}
	return ids, nil
}
