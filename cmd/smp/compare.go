package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/smp-project/smp/interop"
	"github.com/smp-project/smp/report"
	"github.com/smp-project/smp/spec"
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
		correction string
		strict     bool
		partial    bool
		detect     string
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

Before comparing it checks that the results are alike as experiments: protocol, open or
closed loop, requested rate, connections, duration, latency view (corrected or not) and
load generator. A difference is a warning (in the output's notes, and on standard error
with --format json or csv); --strict refuses such a comparison (exit 2). A run that
stopped early (partial) is left out, and the output says so; --include-partial keeps
it. Comparing a file with itself is refused.

For each metric it prints each side's median with a distribution-free 95% interval,
the change of the median in percent with a Hodges-Lehmann interval from the
Mann-Whitney distribution (of the log values: a ratio), and the two-sided Mann-Whitney
U p value. The seven metrics are one family: p values are corrected for testing them
all (--correction holm by default, bonferroni, or none), so that two identical setups
are called different in at most alpha (0.05) of comparisons; the table shows the raw
p and, where the correction changed it, the adjusted one (p=0.002→0.015), and the
verdict is on the adjusted p. "~" marks a change that is not significant. One verdict
line per variant follows, and for the changes that were not significant, how many
runs a side would detect them with 80% power at the runs' spread (--detect N% plans
for a change of N% instead, on every metric). With fewer than 6 runs a side there is
no interval of a median, below 4 no change interval, and with too few runs for the
corrected level (6 a side for 7 metrics) no change can be significant: the output
says so.

--max-regression metric=N% fails the command (exit 1) unless the change interval's
worse end is within N%: its upper end for latencies and the error rate (in percentage
points), its lower end for qps. The runs must show that the change is no larger than
the budget: a noisy regression, whose interval reaches past the budget, fails even
when its point change is small, and so does a metric with too few runs for an
interval.`,
		Example: `  smp compare baseline.json mesh.json
  smp compare base.yaml istio.yaml linkerd.yaml --format markdown
  smp compare fortio-baseline.json mesh.yaml
  smp compare base.json new.json --max-regression p50=5% --max-regression p99=10%
  smp compare base.yaml mesh.yaml --strict --detect 5%`,
		Args: args(cobra.MinimumNArgs(1)), // one file may hold several results (a Meshery export); two results at least are checked once read
		RunE: func(cmd *cobra.Command, files []string) error {
			if !slices.Contains(stats.Formats(), format) {
				return badInput(fmt.Errorf("--format %q: want one of %s", format, strings.Join(stats.Formats(), ", ")))
			}
			var err error
			var bs []stats.Budget
			for _, s := range budgets {
				b, err := stats.ParseBudget(s)
				if err != nil {
					return badInput(fmt.Errorf("--max-regression: %w", err))
				}
				bs = append(bs, b)
			}
			opts := stats.Options{Confidence: confidence, Alpha: alpha, Seed: seed, IncludePartial: partial}
			if opts.Correction, err = stats.ParseCorrection(correction); err != nil {
				return badInput(fmt.Errorf("--correction: %w", err))
			}
			if detect != "" {
				if opts.Detect, err = parsePercent(detect); err != nil {
					return badInput(fmt.Errorf("--detect %q: %w", detect, err))
				}
			}
			if err := sameFiles(files); err != nil {
				return badInput(err)
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
			if err := sameResults(results, files); err != nil {
				return badInput(err)
			}
			uncorrected := map[*spec.PerformanceTestResult]bool{}
			for _, d := range docs {
				uncorrected[d.Result] = d.Uncorrected
				for _, r := range d.Results {
					uncorrected[r] = d.Uncorrected
				}
			}
			names := report.ResultNames(results, files)
			sides := make([]stats.Side, len(results))
			for i, r := range results {
				sides[i] = stats.Side{Name: names[i], Result: r, Uncorrected: uncorrected[r]}
			}
			cs, err := stats.CompareSides(sides, opts)
			if err != nil {
				return badInput(err)
			}
			var warnings []string
			for _, c := range cs {
				for _, w := range c.Warnings {
					warnings = append(warnings, c.OtherName+" vs "+c.BaseName+": "+w)
				}
			}
			if strict && len(warnings) > 0 {
				return badInput(fmt.Errorf("--strict: the results are not alike as experiments:\n  %s", strings.Join(warnings, "\n  ")))
			}
			if format == "json" || format == "csv" {
				for _, w := range warnings {
					fmt.Fprintf(cmd.ErrOrStderr(), "smp: warning: %s\n", w)
				}
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
	fl.Float64Var(&alpha, "alpha", stats.DefaultAlpha, "family-wise significance level of a comparison")
	fl.IntVar(&index, "index", -1, "from a list of Meshery results, take only the result at this 0-based index")
	fl.Uint64Var(&seed, "seed", stats.DefaultSeed, "seed of the bootstrap, used only where a change interval cannot be Hodges-Lehmann's (same seed, same intervals)")
	fl.StringVar(&correction, "correction", stats.DefaultCorrection, "family-wise correction across the metrics: "+strings.Join(stats.Corrections(), "|"))
	fl.BoolVar(&strict, "strict", false, "refuse (exit 2) to compare results whose setups differ (protocol, loop, rate, connections, duration, latency view, generator)")
	fl.BoolVar(&partial, "include-partial", false, "compare runs that stopped early too (left out by default)")
	fl.StringVar(&detect, "detect", "", "plan the runs a side for detecting this change with 80% power, e.g. 5% (default: the change observed)")
	return cmd
}

// parsePercent reads "5%" or "5" as 5, a change in percent (or points).
func parsePercent(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%")), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return 0, errors.New("want a change greater than 0, such as 5%")
	}
	return v, nil
}

// sameFiles refuses a file given twice (under any name: a link, ./a and
// a): a result compared with itself shows no change, which says nothing.
func sameFiles(paths []string) error {
	infos := make([]os.FileInfo, len(paths))
	for i, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			continue // openResults says what is wrong with it
		}
		for j := range i {
			if infos[j] != nil && os.SameFile(infos[j], st) {
				return fmt.Errorf("%s and %s are the same file: a result compared with itself shows nothing; give two different results", paths[j], p)
			}
		}
		infos[i] = st
	}
	return nil
}

// sameResults refuses two copies of one result: the same id and start
// time.
func sameResults(results []*spec.PerformanceTestResult, files []string) error {
	type key struct{ id, start string }
	seen := map[key]string{}
	for i, r := range results {
		if r.GetId() == "" || r.GetStartTime() == nil {
			continue
		}
		k := key{r.GetId(), r.GetStartTime().AsTime().String()}
		if f, ok := seen[k]; ok {
			return fmt.Errorf("%s and %s hold the same result (id %s): a result compared with itself shows nothing; give two different results", f, files[i], r.GetId())
		}
		seen[k] = files[i]
	}
	return nil
}
