package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/smp-project/smp/interop"
	"github.com/smp-project/smp/report"
	"github.com/smp-project/smp/stats"
	"github.com/spf13/cobra"
)

func newCompareCmd() *cobra.Command {
	var (
		format     string
		budgets    []string
		confidence float64
		alpha      float64
		seed       uint64
		index      int
	)
	cmd := &cobra.Command{
		Use:   "compare BASE OTHER...",
		Short: "Statistical comparison of results, baseline first",
		Long: `Compare takes SMP results, the baseline first, and compares each other result with it,
metric by metric (p50, p90, p99, p99.9, max, qps, errors). A result's runs
(smp run --runs N) are the samples; a result without runs is one sample.
Fortio and Meshery result JSON are read too, converted as smp import converts them
(a list of Meshery results gives each of its valid results, in order, unless
--index N chooses one of every file):
their latency is timed from each request's actual send, not corrected for
coordinated omission, and a note on standard error says so when they are compared
with results that are.

For each metric it prints each side's median with a distribution-free 95% interval,
the change of the median in percent with a bootstrap interval over runs, and the
two-sided Mann-Whitney U p value; "~" marks a change that is not significant at
alpha = 0.05. One verdict line per variant follows. With fewer than 6 runs a side there
is no interval, and with fewer than 4 no change can be significant: the output says so.

--max-regression metric=N% fails the command (exit 1) when a variant is significantly
worse than the baseline by more than N% on that metric: up for latencies and the
error rate, down for qps. A change that is not significant never fails.`,
		Example: `  smp compare baseline.json mesh.json
  smp compare base.yaml istio.yaml linkerd.yaml --format markdown
  smp compare fortio-baseline.json mesh.yaml
  smp compare base.json new.json --max-regression p50=5% --max-regression p99=10%`,
		Args: args(cobra.MinimumNArgs(1)), // one file may hold several results (a Meshery export); two results at least are checked once read
		RunE: func(cmd *cobra.Command, files []string) error {
			if !slices.Contains(stats.Formats(), format) {
				return badInput(fmt.Errorf("--format %q: want one of %s", format, strings.Join(stats.Formats(), ", ")))
			}
			var bs []stats.Budget
			for _, s := range budgets {
				b, err := stats.ParseBudget(s)
				if err != nil {
					return badInput(fmt.Errorf("--max-regression: %w", err))
				}
				bs = append(bs, b)
			}
			docs, results, files, err := openResults(cmd, files, index < 0, index)
			if err != nil {
				return err
			}
			if len(results) < 2 {
				return badInput(fmt.Errorf("compare needs two results or more (a baseline and another); %d given", len(results)))
			}
			if n := interop.LatencyMix(docs); n != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "smp: note: %s\n", n)
			}
			cs, err := stats.CompareAll(results, report.ResultNames(results, files), stats.Options{Confidence: confidence, Alpha: alpha, Seed: seed})
			if err != nil {
				return badInput(err)
			}
			if err := stats.WriteComparisons(cmd.OutOrStdout(), cs, format); err != nil {
				return err
			}
			var fails []string
			for _, c := range cs {
				f, err := c.CheckBudgets(bs)
				if err != nil {
					return badInput(err)
				}
				fails = append(fails, f...)
			}
			if len(fails) > 0 {
				return thresholdFailed(errors.New(strings.Join(fails, "\n")))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "text", "output: "+strings.Join(stats.Formats(), "|"))
	fl.StringArrayVar(&budgets, "max-regression", nil, "fail (exit 1) on a significant regression beyond a budget, e.g. p50=5% (repeatable)")
	fl.Float64Var(&confidence, "confidence", stats.DefaultConfidence, "confidence of the intervals")
	fl.Float64Var(&alpha, "alpha", stats.DefaultAlpha, "significance level of the test")
	fl.IntVar(&index, "index", -1, "from a list of Meshery results, take only the result at this 0-based index")
	fl.Uint64Var(&seed, "seed", stats.DefaultSeed, "seed of the bootstrap (same seed, same intervals)")
	return cmd
}
