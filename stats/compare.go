package stats

import (
	"fmt"
	"math"
	"strings"

	"github.com/smp-project/smp/spec"
)

// Options tune a comparison. Zero fields take the defaults.
type Options struct {
	// Confidence of the median and change intervals (DefaultConfidence).
	Confidence float64
	// Alpha is the significance level of the Mann–Whitney test
	// (DefaultAlpha).
	Alpha float64
	// Resamples of the bootstrap (DefaultResamples).
	Resamples int
	// Seed of the bootstrap; 0 means DefaultSeed.
	Seed uint64
}

func (o Options) withDefaults() (Options, error) {
	if o.Confidence == 0 {
		o.Confidence = DefaultConfidence
	}
	if o.Alpha == 0 {
		o.Alpha = DefaultAlpha
	}
	if o.Resamples == 0 {
		o.Resamples = DefaultResamples
	}
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	if !(o.Confidence > 0 && o.Confidence < 1) {
		return o, fmt.Errorf("confidence %v: must be in (0, 1)", o.Confidence)
	}
	if !(o.Alpha > 0 && o.Alpha < 1) {
		return o, fmt.Errorf("alpha %v: must be in (0, 1)", o.Alpha)
	}
	if o.Resamples < 0 {
		return o, fmt.Errorf("%d resamples: must be positive", o.Resamples)
	}
	return o, nil
}

// MetricComparison compares one metric between a baseline and a variant.
type MetricComparison struct {
	Metric      Metric
	Base, Other Summary
	// Change is median(other)/median(base) − 1, in percent: +20 means 20%
	// higher. It is +Inf when the base median is 0 and the other is not, 0
	// when both are 0, NaN when a side has no value. For the error rate
	// (Metric.ChangeUnit "pp") it is median(other) − median(base) in
	// percentage points.
	Change float64
	// HasChangeInterval is true when both sides have enough runs for a
	// median interval; ChangeLow and ChangeHigh (in the change's unit) are
	// then the bootstrap interval of the ratio (or difference) of medians.
	HasChangeInterval     bool
	ChangeLow, ChangeHigh float64
	// Shift is the Hodges–Lehmann estimate of other − base, in the metric's
	// unit.
	Shift float64
	// Test is the two-sided Mann–Whitney U test; HasTest is false when a
	// side has no value.
	Test    MannWhitneyResult
	HasTest bool
	// Significant is Test.P < Alpha.
	Significant bool
	// Missing is true when the baseline carries the metric and the variant
	// does not: a failure, never an improvement. NoSuccess says why: every
	// run of the variant had no successful request, so it has no latency.
	Missing, NoSuccess bool
}

// MissingText says why a missing metric fails.
func (mc MetricComparison) MissingText() string {
	if mc.NoSuccess {
		return "no successful requests"
	}
	return "missing in the variant"
}

// Worse reports whether the change is in the metric's worse direction.
func (mc MetricComparison) Worse() bool {
	if mc.Metric.Worse() == LowerIsWorse {
		return mc.Change < 0
	}
	return mc.Change > 0
}

// ChangeText prints the change in its unit: +20.1% or, for the error rate,
// +0.05pp.
func (mc MetricComparison) ChangeText() string {
	return formatChangeIn(mc.Change, mc.Metric.ChangeUnit())
}

// IntervalText prints the change interval in its unit, "" without one.
func (mc MetricComparison) IntervalText() string {
	if !mc.HasChangeInterval {
		return ""
	}
	u := mc.Metric.ChangeUnit()
	return "[" + formatChangeIn(mc.ChangeLow, u) + ", " + formatChangeIn(mc.ChangeHigh, u) + "]"
}

// Comparison is a variant against the baseline, metric by metric.
type Comparison struct {
	BaseName, OtherName string
	BaseRuns, OtherRuns int
	Confidence, Alpha   float64
	Resamples           int
	Seed                uint64
	// Metrics holds every metric at least one side carries, in Metrics()
	// order.
	Metrics []MetricComparison
}

// Compare compares the runs of a variant (other) with the runs of the
// baseline, metric by metric. Each run is one sample (see Runs). Single runs
// work: the result then has no intervals and cannot be significant, which
// Caveats says.
func Compare(base, other []*spec.PerformanceTestResult, opt Options) (*Comparison, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(base) == 0 || len(other) == 0 {
		return nil, fmt.Errorf("compare: both sides need at least one run (base %d, other %d)", len(base), len(other))
	}
	c := &Comparison{
		BaseRuns: len(base), OtherRuns: len(other),
		Confidence: opt.Confidence, Alpha: opt.Alpha, Resamples: opt.Resamples, Seed: opt.Seed,
	}
	for _, m := range Metrics() {
		bv, ov := Values(base, m), Values(other, m)
		if len(bv) == 0 && len(ov) == 0 {
			continue
		}
		mc, err := CompareValues(m, bv, ov, opt)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m, err)
		}
		if len(bv) > 0 && len(ov) == 0 {
			mc.Missing = true
			mc.NoSuccess = m.Latency() && allNoSuccess(other)
		}
		c.Metrics = append(c.Metrics, mc)
	}
	return c, nil
}

// CompareAll compares every result with the first, the baseline, as
// Compare does with their runs (Runs); names[i] names results[i] in the
// comparisons and errors.
func CompareAll(results []*spec.PerformanceTestResult, names []string, opt Options) ([]*Comparison, error) {
	if len(results) < 2 || len(names) != len(results) {
		return nil, fmt.Errorf("compare: needs a baseline and at least one other result, each named (%d results, %d names)", len(results), len(names))
	}
	var cs []*Comparison
	for i := 1; i < len(results); i++ {
		c, err := Compare(Runs(results[0]), Runs(results[i]), opt)
		if err != nil {
			return nil, fmt.Errorf("%s vs %s: %w", names[i], names[0], err)
		}
		c.BaseName, c.OtherName = names[0], names[i]
		cs = append(cs, c)
	}
	return cs, nil
}

// CompareValues compares one metric given as per-run values. Either side may
// be empty: the comparison then has summaries only (Change NaN, no test).
func CompareValues(m Metric, base, other []float64, opt Options) (MetricComparison, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return MetricComparison{}, err
	}
	mc := MetricComparison{Metric: m, Change: math.NaN(), Shift: math.NaN()}
	if mc.Base, err = Summarize(base, opt.Confidence); err != nil {
		return mc, err
	}
	if mc.Other, err = Summarize(other, opt.Confidence); err != nil {
		return mc, err
	}
	if mc.Base.N == 0 || mc.Other.N == 0 {
		return mc, nil
	}
	base, other = dropNaN(base), dropNaN(other)
	relative := m.ChangeUnit() == "%"
	if relative {
		mc.Change = 100 * (ratio(mc.Other.Median, mc.Base.Median) - 1)
	} else {
		mc.Change = mc.Other.Median - mc.Base.Median
	}
	mc.Shift = HodgesLehmann(base, other)
	if mc.Test, err = MannWhitneyU(base, other); err != nil {
		return mc, err
	}
	mc.HasTest = true
	mc.Significant = mc.Test.P < opt.Alpha
	if mc.Base.HasInterval && mc.Other.HasInterval {
		if relative {
			ri, err := BootstrapRatio(base, other, opt.Confidence, opt.Resamples, opt.Seed)
			if err != nil {
				return mc, err
			}
			mc.ChangeLow, mc.ChangeHigh = 100*(ri.Low-1), 100*(ri.High-1)
		} else {
			ri, err := BootstrapDifference(base, other, opt.Confidence, opt.Resamples, opt.Seed)
			if err != nil {
				return mc, err
			}
			mc.ChangeLow, mc.ChangeHigh = ri.Low, ri.High
		}
		mc.HasChangeInterval = true
	}
	return mc, nil
}

func allNoSuccess(runs []*spec.PerformanceTestResult) bool {
	for _, r := range runs {
		if !NoSuccess(r) {
			return false
		}
	}
	return len(runs) > 0
}

func dropNaN(xs []float64) []float64 {
	out := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			out = append(out, x)
		}
	}
	return out
}

// Caveats lists what the number of runs prevents: an interval, or any
// significant result at all.
func (c *Comparison) Caveats() []string {
	var out []string
	need := MinRuns(0.5, c.Confidence)
	for _, side := range []struct {
		name string
		n    int
	}{{c.BaseName, c.BaseRuns}, {c.OtherName, c.OtherRuns}} {
		if side.n < need {
			out = append(out, fmt.Sprintf("%s has %s: no %s interval (needs at least %d)",
				orDefault(side.name, "a side"), plural(side.n, "run"), pct(c.Confidence), need))
		}
	}
	if p := MinPValue(c.BaseRuns, c.OtherRuns); p >= c.Alpha {
		out = append(out, fmt.Sprintf("with %d and %d runs no difference can be significant at α=%g (smallest possible p = %.3g): repeat the runs (--runs 6)",
			c.BaseRuns, c.OtherRuns, c.Alpha, p))
	}
	return out
}

// Verdict is a one-line summary of the comparison: which metrics got
// significantly worse or better, or that none changed.
func (c *Comparison) Verdict() string {
	var worse, better []string
	same := 0
	for _, mc := range c.Metrics {
		switch {
		case mc.Missing:
			worse = append(worse, string(mc.Metric)+" ("+mc.MissingText()+")")
		case !mc.Significant:
			same++
		case mc.Worse():
			worse = append(worse, string(mc.Metric)+" "+mc.ChangeText())
		case mc.Change != 0:
			better = append(better, string(mc.Metric)+" "+mc.ChangeText())
		default:
			same++
		}
	}
	head := fmt.Sprintf("%s vs %s (%d vs %d runs): ", orDefault(c.OtherName, "other"), orDefault(c.BaseName, "base"), c.OtherRuns, c.BaseRuns)
	if len(worse) == 0 && len(better) == 0 {
		if MinPValue(c.BaseRuns, c.OtherRuns) >= c.Alpha {
			return head + "no conclusion: too few runs for a significant difference"
		}
		return head + fmt.Sprintf("no significant difference (α=%g)", c.Alpha)
	}
	var parts []string
	if len(worse) > 0 {
		parts = append(parts, "worse "+strings.Join(worse, ", "))
	}
	if len(better) > 0 {
		parts = append(parts, "better "+strings.Join(better, ", "))
	}
	if same > 0 {
		parts = append(parts, fmt.Sprintf("%d unchanged", same))
	}
	return head + strings.Join(parts, "; ")
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func pct(conf float64) string {
	return fmt.Sprintf("%g%%", 100*conf)
}
