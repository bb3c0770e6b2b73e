package main

import (
	"fmt"
	"time"

	"github.com/smp-project/smp/smprun"
	"github.com/smp-project/smp/target"
	"github.com/spf13/cobra"
)

// Quickstart's fixed load: short enough to wait for, long enough for a
// stable p99.
const (
	quickstartQPS      = 1000
	quickstartDuration = 5 * time.Second
)

func newQuickstartCmd() *cobra.Command {
	var (
		out   outputFlags
		delay string
	)
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "Start the built-in target on loopback and run a short test against it",
		Long: `Quickstart starts the built-in workload server in this process on 127.0.0.1 (a
free port), sends it 1,000 requests a second for 5 seconds over 8 HTTP/1.1
connections, and prints the result: a first look at what smp measures, with
nothing to install or configure.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(); err != nil {
				return err
			}
			d, err := target.ParseDelay(delay)
			if err != nil {
				return badInput(fmt.Errorf("--delay: %w", err))
			}
			srv, err := target.Start(cmd.Context(), target.Config{HTTP: "127.0.0.1:0", Defaults: target.Behavior{Delay: d}})
			if err != nil {
				return cannotRun(fmt.Errorf("start the target: %w", err))
			}
			defer srv.Close()
			url := "http://" + srv.Addrs().HTTP + "/"
			qps, dur, name := float64(quickstartQPS), quickstartDuration, "quickstart"
			cfg, err := smprun.ApplySettings(nil, smprun.Settings{URLs: []string{url}, QPS: &qps, Duration: &dur, Name: &name})
			if err != nil {
				return badInput(err)
			}
			if !out.quiet {
				fmt.Fprintf(cmd.ErrOrStderr(), "target listening on %s; sending %v requests/s for %v\n", url, qps, dur)
			}
			v := smprun.Variant{Config: cfg, Result: smprun.ResultOptions{Generator: smprun.ThisGenerator()}}
			if err := smprun.CheckSeries([]smprun.Variant{v}, out.outputs, openFileLimit()); err != nil {
				return badInput(err)
			}
			return execute(cmd, []smprun.Variant{v}, smprun.SeriesOptions{}, out)
		},
	}
	out.add(cmd)
	cmd.Flags().StringVar(&delay, "delay", "", "the target's response delay (e.g. 2ms, exp:1ms, lognormal:1ms,10ms)")
	return cmd
}
