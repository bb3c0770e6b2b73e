package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/smp-project/smp/lab"
	"github.com/smp-project/smp/load"
	"github.com/spf13/cobra"
)

const labLong = `Lab runs controlled experiments on traffic-control functions (a filter, a
rate limiter, mTLS...): variants of one service measured at several load levels
or searched for their capacity, in randomized balanced order, each compared with
the baseline variant.

An experiment file (YAML):

  name: rate-limit-study
  runs: 3                 # of each variant at each level
  duration: 10s           # each run; also warmup, pause, connections, timeout
  start: ["{smp} target --http 127.0.0.1:18100 --max-rps 100"]   # shared processes
  variants:
    - name: direct
      endpoint: http://127.0.0.1:18100/
    - name: native
      endpoint: http://127.0.0.1:18101/
      start: ["{smp} proxy --listen 127.0.0.1:18101 --upstream http://127.0.0.1:18100 --filter ratelimit:rate=100"]
  levels:
    rates: [50, 100, 200]
    capacity: {start: 50, max: 5000, p99: 25ms, errors: 1}

Commands run with sh -c; {smp} is this binary, {dir} the file's directory, {tmp}
a scratch directory. Started processes run for the whole experiment and are
stopped at its end (also on failure or Ctrl-C); each variant's endpoint (or its
ready: URL) must answer first.`

func newLabCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "lab", Short: "Run traffic-control experiments (variants × load levels, capacity search)", Long: labLong}
	var out, page string
	var quiet bool
	run := &cobra.Command{
		Use:   "run EXPERIMENT.yaml",
		Short: "Run an experiment and report it",
		Args:  args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			e, err := lab.LoadFile(a[0])
			if err != nil {
				return badInput(err)
			}
			for _, p := range []string{out, page} {
				if p != "" {
					if st, err := os.Stat(filepath.Dir(p)); err != nil || !st.IsDir() {
						return badInput(fmt.Errorf("%s: directory %s does not exist", p, filepath.Dir(p)))
					}
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
			defer stop()
			stderr := cmd.ErrOrStderr()
			o := lab.Options{Dir: filepath.Dir(a[0])}
			if !quiet {
				o.Log = func(msg string) { fmt.Fprintf(stderr, "smp lab: %s\n", msg) }
			}
			res, err := lab.Run(ctx, e, o)
			if err != nil {
				if errors.Is(err, load.ErrInvalid) {
					return badInput(err)
				}
				return cannotRun(err)
			}
			if err := res.WriteText(cmd.OutOrStdout()); err != nil {
				return err
			}
			if out != "" {
				b, err := json.MarshalIndent(res, "", "  ")
				if err != nil {
					return err
				}
				if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
					return outputFailed(err)
				}
			}
			if page != "" {
				var b bytes.Buffer
				if err := res.WriteHTML(&b); err != nil {
					return err
				}
				if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
					return outputFailed(err)
				}
			}
			if res.Partial {
				return partial(errors.New(res.PartialReason))
			}
			if ctx.Err() != nil {
				return partial(context.Cause(ctx))
			}
			return nil
		},
	}
	run.Flags().StringVarP(&out, "output", "o", "", "write the experiment result (JSON: every SMP result, comparisons, capacities) to `FILE`")
	run.Flags().StringVar(&page, "report", "", "write the HTML report to `FILE`")
	run.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress lines")
	cmd.AddCommand(run)
	return cmd
}
