// Package stats turns repeated load-test runs into numbers that can be
// defended: per-run metrics taken from SMP results, the median of each metric
// across runs with a distribution-free confidence interval, and the
// comparison of two configurations (baseline and a variant) by the
// Mann–Whitney U test, the Hodges–Lehmann shift and a bootstrap interval for
// the ratio of medians. It also checks regression budgets
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
//   - Change: median(other)/median(base) − 1, with a percentile bootstrap
//     interval that resamples runs within each side, seeded so that the same
//     inputs and seed always give the same interval. The error rate is the
//     exception: its change is the difference of the medians in percentage
//     points (pp), since a rate that starts at 0 has no relative change.
//   - Significance: p < α (0.05). A change that is not significant prints
//     as "~"; when the numbers of runs make significance impossible (fewer
//     than 4 a side at α = 0.05) the point change is printed in parentheses
//     and a caveat says why.
//   - Regression budgets: a metric fails its budget only when its change is
//     significant, in the worse direction (up for latencies and errors, down
//     for qps) and larger than the budget.
//
// Metrics per run (Value): p50, p90, p99 and p99.9 from percentiles_ms (p50,
// p90, p99 fall back to latencies_ms), max from latencies_ms, qps from
// actual_qps, errors = 100 × requests.errors / requests.total.
package stats
