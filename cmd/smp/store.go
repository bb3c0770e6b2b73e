package main

import (
	"context"
	"fmt"
	"io"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/smprun"
	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/store"
)

// storedSeries is a series that `smp run --store` saves as it runs.
type storedSeries struct {
	st     store.Store
	series *store.Series
}

// beginStore opens the store that --store names and stores a running
// run per variant; so gets the callback that saves each second. nil when
// --store is not given.
func beginStore(ctx context.Context, dsn string, vs []smprun.Variant, so *smprun.SeriesOptions) (*storedSeries, error) {
	if dsn == "" {
		return nil, nil
	}
	if dsn == "default" {
		dsn = ""
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, badInput(fmt.Errorf("--store: %w", err))
	}
	svs := make([]store.Variant, len(vs))
	for i, v := range vs {
		svs[i] = store.Variant{Name: v.Name, Config: v.Config}
	}
	series, err := store.BeginSeries(ctx, st, svs)
	if err != nil {
		st.Close()
		return nil, cannotRun(fmt.Errorf("--store: %w", err))
	}
	// Metrics rather than Progress: it has the engine copy the latency
	// histogram into each second, which the store keeps for a crash.
	prev := so.Metrics
	so.Metrics = func(ri smprun.RunInfo, p load.Progress) {
		series.Progress(ri.Variant, ri.Run, p)
		if prev != nil {
			prev(ri, p)
		}
	}
	return &storedSeries{st: st, series: series}, nil
}

// finish stores the results; a failure to store is reported, not fatal:
// the result files and stdout are the run's outputs.
func (s *storedSeries) finish(stderr io.Writer, vrs []*smprun.VariantResult, runErr error) {
	defer s.st.Close()
	results := map[string]*spec.PerformanceTestResult{}
	for _, v := range vrs {
		results[v.Name] = v.Result
	}
	ids, err := s.series.Finish(context.Background(), results, runErr)
	if err != nil {
		fmt.Fprintf(stderr, "smp: warning: %v\n", err)
	}
	for _, id := range ids {
		fmt.Fprintf(stderr, "smp: stored as run %s (%s)\n", id, s.st.Engine())
	}
}
