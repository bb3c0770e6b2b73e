package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/smp-project/smp/livemetrics"
	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/smprun"
)

// liveMetrics starts the --metrics-addr server, if asked for, and feeds it
// the series' progress; stop closes it. An address that cannot be bound is
// bad input (exit 2), found before anything is sent.
func liveMetrics(cmd *cobra.Command, addr string, so smprun.SeriesOptions) (_ smprun.SeriesOptions, stop func(), _ error) {
	if addr == "" {
		return so, func() {}, nil
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	s, err := livemetrics.Start(ctx, addr)
	if err != nil {
		return so, nil, badInput(fmt.Errorf("--metrics-addr: %w", err))
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "smp: live metrics at %s\n", s.URL())
	so.Metrics = func(ri smprun.RunInfo, p load.Progress) { s.Observe(ri.Variant, ri.Run, p) }
	return so, func() { s.Close() }, nil
}
