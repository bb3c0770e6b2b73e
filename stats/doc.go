// Package stats turns repeated load-test runs into numbers that can be
// defended: per-run metrics taken from SMP results, the median of each metric
// across runs with a distribution-free confidence interval, and the
// comparison of two configurations (baseline and a variant) by the
// Mann–Whitney U test corrected for the family of metrics (Holm), with a
// Hodges–Lehmann interval for the ratio of medians, after checking that the
// two results are alike as experiments (Differences). It also checks regression budgets
// (--max-regression p50=5%) and service-level objectives (--slo p99<25ms),
// and renders a comparison as a text, Markdown, CSV or JSON table.
//
// A "run" is one sample. Latencies within a run are autocorrelated, so
// nothing here resamples individual requests: intervals and tests work on the
// runs' values.
//
// Methods, and where they come from:
//
//   - Median interval: with K ~ Binomial(n, q) the number of runs below the
//     q-quantile, the order statistics x(l) < x(r) cover it with probability
//     P(l ≤ K < r). Tails are split evenly (each ≤ (1−confidence)/2). The
//     binomial is exact for n ≤ 30 and the normal approximation with
//     continuity correction is used above, as in golang.org/x/perf/benchmath.
//     When n cannot reach the confidence (fewer than 6 runs at 95%), no
//     interval is given: ErrTooFewRuns.
//   - Mann–Whitney U, two-sided: the exact distribution of U when there are
//     no ties and both samples have fewer than 50 values; otherwise the normal
//     approximation with tie correction and continuity correction. This is
//     R's wilcox.test(x, y) default, and the tests pin its outputs.
//   - Hodges–Lehmann shift: the median of all pairwise differences
//     other − base, in the metric's unit.
//   - Change: median(other)/median(base) − 1, with the Hodges–Lehmann
//     interval that inverts the Mann–Whitney test, computed on the log
//     values so that it is an interval for the ratio (HodgesLehmannCI;
//     from 4 runs a side at 95%, coverage at least the confidence under a
//     shift model). A percentile bootstrap over runs, seeded, stands in
//     only when a value is not positive. The error rate is the exception:
//     its change is the difference of the medians in percentage points
//     (pp), since a rate that starts at 0 has no relative change.
//   - Significance: the p values of the metrics of one comparison are one
//     family, adjusted by Holm's method (Adjust; Bonferroni or none on
//     request), and a metric is significant when its adjusted p < α
//     (0.05): identical setups are called different in at most α of
//     comparisons, where seven metrics at α each would do so in up to 30%.
//     A metric whose runs all have one value is no test (p n/a) and not in
//     the family. A change that is not significant prints as "~"; when
//     the numbers of runs make significance impossible at the corrected
//     level the point change is printed in parentheses and a caveat says
//     why. Comparison.Status is the one verdict every format prints.
//   - Partial runs are left out unless asked for (Options.IncludePartial).
//   - Sample size: RunsForPower, the normal-theory formula over the
//     Mann–Whitney test's efficiency 3/π, at the level Holm's first step
//     needs.
//   - Regression budgets: a metric fails its budget unless its change
//     interval's worse end (up for latencies and errors, down for qps) is
//     within the budget; without an interval it fails.
//
// Metrics per run (Value): p50, p90, p99 and p99.9 from percentiles_ms (p50,
// p90, p99 fall back to latencies_ms), max from latencies_ms, qps from
// actual_qps, errors = 100 × requests.errors / requests.total.
package stats
