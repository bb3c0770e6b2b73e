package stats

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/smp-project/smp/spec"
)

// Options tune a comparison. Zero fields take the defaults.
type Options struct {
	// Confidence of the median and change intervals (DefaultConfidence).
	Confidence float64
	// Alpha is the family-wise significance level of a comparison: the
	// chance that a comparison of two identical configurations calls any
	// of its metrics changed (DefaultAlpha).
	Alpha float64
	// Correction for testing several metrics at once: CorrectionHolm
	// (the default, also for ""), CorrectionBonferroni or CorrectionNone.
	Correction string
	// Resamples of the bootstrap (DefaultResamples), which gives the
	// change interval only where the Hodges–Lehmann interval cannot (a
	// ratio of values that are not all positive).
	Resamples int
	// Seed of the bootstrap; 0 means DefaultSeed.
	Seed uint64
	// IncludePartial keeps runs that stopped early (partial) as samples;
	// by default they are left out, and the comparison says so: a run cut
	// short measured a different test.
	IncludePartial bool
	// Detect is the change the sample-size estimate plans for, in the
	// metric's change unit (percent, or points for the error rate); 0
	// plans for the change observed.
	Detect float64
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
	if !(o.Detect >= 0) || math.IsInf(o.Detect, 0) {
		return o, fmt.Errorf("detect %v: must be a change ≥ 0", o.Detect)
	}
	c, err := ParseCorrection(o.Correction)
	if err != nil {
		return o, err
	}
	o.Correction = c
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
	// HasChangeInterval is true when the numbers of runs give an interval
	// at the confidence (4 a side at 95%); ChangeLow and ChangeHigh (in the
	// change's unit) are then the Hodges–Lehmann interval of the ratio of
	// the medians (on the log scale) or, for the error rate, of their
	// difference; ChangeConfidence is the coverage it achieves. Bootstrap is
	// true when the interval is a percentile bootstrap instead (a ratio of
	// values that are not all positive).
	HasChangeInterval     bool
	ChangeLow, ChangeHigh float64
	ChangeConfidence      float64
	Bootstrap             bool
	// Shift is the Hodges–Lehmann estimate of other − base, in the metric's
	// unit.
	Shift float64
	// Test is the two-sided Mann–Whitney U test; HasTest is false when a
	// side has no value. Test.AllTied marks a metric whose runs all have
	// one value: no test, and no member of the family corrected for.
	Test    MannWhitneyResult
	HasTest bool
	// AdjustedP is Test.P corrected for the family of metrics tested in
	// the comparison (Options.Correction); NaN without a test.
	AdjustedP float64
	// Significant is AdjustedP < Alpha.
	Significant bool
	// Missing is true when the baseline carries the metric and the variant
	// does not: a failure, never an improvement. NoSuccess says why: every
	// run of the variant had no successful request, so it has no latency.
	Missing, NoSuccess bool
	// RunsForPower is how many runs a side would detect PowerChange (the
	// change observed, or Options.Detect) with 80% power at the spread of
	// these runs and the corrected level (RunsForPower); 0 when there is
	// nothing to plan for.
	RunsForPower int
	PowerChange  float64
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

// PText prints the p value as the tables show it: "p=0.005" raw, with the
// adjusted value after it when a correction changed it
// ("p=0.002→0.015"), "p=n/a" when every run had the same value.
func (mc MetricComparison) PText() string {
	switch {
	case !mc.HasTest:
		return ""
	case mc.Test.AllTied:
		return "p=n/a"
	case mc.AdjustedP != mc.Test.P && !math.IsNaN(mc.AdjustedP):
		return "p=" + FormatP(mc.Test.P) + "→" + FormatP(mc.AdjustedP)
	}
	return "p=" + FormatP(mc.Test.P)
}

// Status is the verdict on one metric, the same in every output format.
type Status string

// The verdicts on a metric.
const (
	// StatusWorse: significantly worse, or missing in the variant.
	StatusWorse Status = "worse"
	// StatusBetter: significantly better.
	StatusBetter Status = "better"
	// StatusUnchanged: no significant difference.
	StatusUnchanged Status = "unchanged"
	// StatusUntestable: too few runs for any difference to be significant.
	StatusUntestable Status = "untestable"
	// StatusNone: a side lacks the metric (the baseline, or both).
	StatusNone Status = "none"
)

// Status says what the comparison concludes about the metric; the family
// is the comparison's (c.NoConclusion tells whether the numbers of runs
// allow a conclusion at all).
func (c *Comparison) Status(mc MetricComparison) Status {
	switch {
	case mc.Missing:
		return StatusWorse
	case !mc.HasTest:
		return StatusNone
	case mc.Significant && mc.Change != 0:
		if mc.Worse() {
			return StatusWorse
		}
		return StatusBetter
	case mc.Significant:
		return StatusUnchanged
	case c.NoConclusion():
		return StatusUntestable
	}
	return StatusUnchanged
}

// ChangeCell is the change as every table prints it: the change when
// significant, "~" when not, "(change)" when no test could be significant
// with these runs, the reason for a missing metric.
func (c *Comparison) ChangeCell(mc MetricComparison) string {
	if mc.Missing {
		return mc.MissingText()
	}
	switch c.Status(mc) {
	case StatusWorse, StatusBetter:
		return mc.ChangeText()
	case StatusUntestable:
		return "(" + mc.ChangeText() + ")"
	case StatusUnchanged:
		return "~"
	}
	return ""
}

// Comparison is a variant against the baseline, metric by metric.
type Comparison struct {
	BaseName, OtherName string
	// BaseRuns and OtherRuns are the runs compared; BaseExcluded and
	// OtherExcluded the partial runs left out (Options.IncludePartial).
	BaseRuns, OtherRuns         int
	BaseExcluded, OtherExcluded int
	Confidence, Alpha           float64
	Correction                  string
	Resamples                   int
	Seed                        uint64
	Detect                      float64
	// Warnings say how the two results differ as experiments
	// (Differences): set by CompareSides.
	Warnings []string
	// Metrics holds every metric at least one side carries, in Metrics()
	// order.
	Metrics []MetricComparison
}

// Family is the number of metrics tested together: those with a test whose
// runs are not all tied.
func (c *Comparison) Family() int {
	n := 0
	for _, mc := range c.Metrics {
		if mc.HasTest && !mc.Test.AllTied {
			n++
		}
	}
	return n
}

// SmallestP is the smallest adjusted p value the comparison could give with
// its numbers of runs: the exact test's smallest p, times the family's size
// under Holm and Bonferroni (their first step).
func (c *Comparison) SmallestP() float64 {
	p := MinPValue(c.BaseRuns, c.OtherRuns)
	if c.Correction != CorrectionNone {
		p *= float64(max(1, c.Family()))
	}
	return math.Min(1, p)
}

// NoConclusion reports whether no metric could be significant with these
// numbers of runs.
func (c *Comparison) NoConclusion() bool { return c.SmallestP() >= c.Alpha }

// Compare compares the runs of a variant (other) with the runs of the
// baseline, metric by metric, and corrects the p values for testing every
// metric (Options.Correction). Each run is one sample (see Runs); partial
// runs are left out unless Options.IncludePartial. Single runs work: the
// result then has no intervals and cannot be significant, which Caveats
// says.
func Compare(base, other []*spec.PerformanceTestResult, opt Options) (*Comparison, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Comparison{
		Confidence: opt.Confidence, Alpha: opt.Alpha, Correction: opt.Correction,
		Resamples: opt.Resamples, Seed: opt.Seed, Detect: opt.Detect,
	}
	if !opt.IncludePartial {
		base, c.BaseExcluded = complete(base)
		other, c.OtherExcluded = complete(other)
	}
	c.BaseRuns, c.OtherRuns = len(base), len(other)
	if len(base) == 0 || len(other) == 0 {
		if c.BaseExcluded+c.OtherExcluded > 0 {
			return nil, fmt.Errorf("compare: every run of a side is partial (base %d complete of %d, other %d of %d): --include-partial compares them anyway",
				len(base), len(base)+c.BaseExcluded, len(other), len(other)+c.OtherExcluded)
		}
		return nil, fmt.Errorf("compare: both sides need at least one run (base %d, other %d)", len(base), len(other))
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
	if err := c.correct(); err != nil {
		return nil, err
	}
	c.plan(base, other)
	return c, nil
}

// complete returns the runs that are not partial and how many were.
func complete(runs []*spec.PerformanceTestResult) ([]*spec.PerformanceTestResult, int) {
	out := make([]*spec.PerformanceTestResult, 0, len(runs))
	for _, r := range runs {
		if !r.GetPartial() {
			out = append(out, r)
		}
	}
	return out, len(runs) - len(out)
}

// correct adjusts the p values of the metrics for the family and decides
// significance on the adjusted values.
func (c *Comparison) correct() error {
	ps := make([]float64, len(c.Metrics))
	for i, mc := range c.Metrics {
		ps[i] = math.NaN()
		if mc.HasTest && !mc.Test.AllTied {
			ps[i] = mc.Test.P
		}
	}
	adj, err := Adjust(ps, c.Correction)
	if err != nil {
		return err
	}
	for i := range c.Metrics {
		mc := &c.Metrics[i]
		mc.AdjustedP = adj[i]
		if mc.HasTest && mc.Test.AllTied {
			mc.AdjustedP = 1
		}
		mc.Significant = mc.HasTest && mc.AdjustedP < c.Alpha
	}
	return nil
}

// plan estimates, for each tested metric, the runs a side that would
// detect the change with DefaultPower: the change observed, or c.Detect.
// The level is α over the family's size (Bonferroni), which Holm's first
// step needs and its later steps need less of: an upper estimate.
func (c *Comparison) plan(base, other []*spec.PerformanceTestResult) {
	alpha := c.Alpha
	if c.Correction != CorrectionNone {
		alpha /= float64(max(1, c.Family()))
	}
	for i := range c.Metrics {
		mc := &c.Metrics[i]
		if !mc.HasTest {
			continue
		}
		bv, ov := dropNaN(Values(base, mc.Metric)), dropNaN(Values(other, mc.Metric))
		change := mc.Change
		if c.Detect > 0 {
			// A regression of that size: up, or down for throughput.
			change = c.Detect
			if mc.Metric.Worse() == LowerIsWorse {
				change = -c.Detect
			}
		}
		if math.IsNaN(change) || math.IsInf(change, 0) || change == 0 {
			continue
		}
		mc.PowerChange = change
		if mc.Metric.ChangeUnit() == "%" {
			lb, lo := logs(bv), logs(ov)
			if lb == nil || lo == nil || change <= -100 {
				continue
			}
			mc.RunsForPower = RunsForPower(pooledSD(lb, lo), math.Log1p(change/100), alpha, DefaultPower)
		} else {
			mc.RunsForPower = RunsForPower(pooledSD(bv, ov), change, alpha, DefaultPower)
		}
	}
}

// logs returns the logarithms of the values, nil when one is not positive.
func logs(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		if !(x > 0) || math.IsInf(x, 0) {
			return nil
		}
		out[i] = math.Log(x)
	}
	return out
}

// CompareAll compares every result with the first, the baseline, as
// Compare does with their runs (Runs); names[i] names results[i] in the
// comparisons and errors.
func CompareAll(results []*spec.PerformanceTestResult, names []string, opt Options) ([]*Comparison, error) {
	if len(names) != len(results) {
		return nil, fmt.Errorf("compare: %d results, %d names", len(results), len(names))
	}
	sides := make([]Side, len(results))
	for i := range results {
		sides[i] = Side{Name: names[i], Result: results[i]}
	}
	return CompareSides(sides, opt)
}

// CompareSides compares every side with the first, the baseline, as
// Compare does with their runs (Runs), and lists in each comparison's
// Warnings how the two differ as experiments (Differences).
func CompareSides(sides []Side, opt Options) ([]*Comparison, error) {
	if len(sides) < 2 {
		return nil, fmt.Errorf("compare: needs a baseline and at least one other result, each named (%d given)", len(sides))
	}
	var cs []*Comparison
	for _, s := range sides[1:] {
		c, err := Compare(Runs(sides[0].Result), Runs(s.Result), opt)
		if err != nil {
			return nil, fmt.Errorf("%s vs %s: %w", s.Name, sides[0].Name, err)
		}
		c.BaseName, c.OtherName = sides[0].Name, s.Name
		c.Warnings = Differences(sides[0], s)
		cs = append(cs, c)
	}
	return cs, nil
}

// CompareValues compares one metric given as per-run values, on its own:
// AdjustedP is the raw p and Significant is p < α (Compare corrects for the
// family). Either side may be empty: the comparison then has summaries only
// (Change NaN, no test).
func CompareValues(m Metric, base, other []float64, opt Options) (MetricComparison, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return MetricComparison{}, err
	}
	mc := MetricComparison{Metric: m, Change: math.NaN(), Shift: math.NaN(), AdjustedP: math.NaN()}
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
	mc.AdjustedP = mc.Test.P
	mc.Significant = !mc.Test.AllTied && mc.Test.P < opt.Alpha
	if err := mc.interval(base, other, opt); err != nil {
		return mc, err
	}
	return mc, nil
}

// interval sets the change interval: Hodges–Lehmann from the Mann–Whitney
// distribution (of the logarithms, for a ratio), or a percentile bootstrap
// of the ratio of medians when a value is not positive.
func (mc *MetricComparison) interval(base, other []float64, opt Options) error {
	if mc.Metric.ChangeUnit() != "%" {
		si, err := HodgesLehmannCI(base, other, opt.Confidence)
		if errors.Is(err, ErrTooFewForShift) {
			return nil
		}
		if err != nil {
			return err
		}
		mc.ChangeLow, mc.ChangeHigh, mc.ChangeConfidence, mc.HasChangeInterval = si.Low, si.High, si.Confidence, true
		return nil
	}
	si, ok, err := ratioInterval(base, other, opt.Confidence)
	if errors.Is(err, ErrTooFewForShift) {
		return nil
	}
	if err != nil {
		return err
	}
	if ok {
		mc.ChangeLow, mc.ChangeHigh = 100*(si.Low-1), 100*(si.High-1)
		mc.ChangeConfidence, mc.HasChangeInterval = si.Confidence, true
		return nil
	}
	if !mc.Base.HasInterval || !mc.Other.HasInterval {
		return nil
	}
	ri, err := BootstrapRatio(base, other, opt.Confidence, opt.Resamples, opt.Seed)
	if err != nil {
		return err
	}
	mc.ChangeLow, mc.ChangeHigh = 100*(ri.Low-1), 100*(ri.High-1)
	mc.ChangeConfidence, mc.HasChangeInterval, mc.Bootstrap = opt.Confidence, true, true
	return nil
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

// Caveats lists what the runs prevent or leave out: an interval, any
// significant result at all, the partial runs not compared.
func (c *Comparison) Caveats() []string {
	var out []string
	need := MinRuns(0.5, c.Confidence)
	for _, side := range []struct {
		name        string
		n, excluded int
	}{{c.BaseName, c.BaseRuns, c.BaseExcluded}, {c.OtherName, c.OtherRuns, c.OtherExcluded}} {
		if side.excluded > 0 {
			out = append(out, fmt.Sprintf("%s: %s left out (--include-partial keeps them)",
				orDefault(side.name, "a side"), plural(side.excluded, "partial run")))
		}
		if side.n < need {
			out = append(out, fmt.Sprintf("%s has %s: no %s interval of its median (needs at least %d)",
				orDefault(side.name, "a side"), plural(side.n, "run"), pct(c.Confidence), need))
		}
	}
	if c.NoConclusion() {
		n := 2
		for ; n < 100; n++ {
			cc := *c
			cc.BaseRuns, cc.OtherRuns = n, n
			if !cc.NoConclusion() {
				break
			}
		}
		how := ""
		if c.Correction != CorrectionNone && c.Family() > 1 {
			how = fmt.Sprintf(" with %s over %d metrics", c.correctionName(), c.Family())
		}
		out = append(out, fmt.Sprintf("with %d and %d runs no difference can be significant at α=%g%s (smallest possible p = %.3g): repeat the runs (--runs %d)",
			c.BaseRuns, c.OtherRuns, c.Alpha, how, c.SmallestP(), n))
	}
	return out
}

func (c *Comparison) correctionName() string {
	switch c.Correction {
	case CorrectionHolm:
		return "Holm"
	case CorrectionBonferroni:
		return "Bonferroni"
	}
	return "no correction"
}

// Method says how significance was decided: "Mann–Whitney U, α=0.05,
// Holm over 7 metrics".
func (c *Comparison) Method() string {
	s := fmt.Sprintf("Mann–Whitney U, α=%g", c.Alpha)
	if c.Correction == CorrectionNone {
		return s + ", each metric on its own"
	}
	return s + fmt.Sprintf(" family-wise, %s over %d metrics", c.correctionName(), c.Family())
}

// Verdict is a one-line summary of the comparison: which metrics got
// significantly worse or better, or that none changed. It is built from
// Status, as every output's per-metric verdict is.
func (c *Comparison) Verdict() string {
	var worse, better []string
	same := 0
	for _, mc := range c.Metrics {
		switch c.Status(mc) {
		case StatusWorse:
			if mc.Missing {
				worse = append(worse, string(mc.Metric)+" ("+mc.MissingText()+")")
			} else {
				worse = append(worse, string(mc.Metric)+" "+mc.ChangeText())
			}
		case StatusBetter:
			better = append(better, string(mc.Metric)+" "+mc.ChangeText())
		case StatusUnchanged, StatusUntestable:
			same++
		}
	}
	head := fmt.Sprintf("%s vs %s (%d vs %d runs): ", orDefault(c.OtherName, "other"), orDefault(c.BaseName, "base"), c.OtherRuns, c.BaseRuns)
	if len(worse) == 0 && len(better) == 0 {
		if c.NoConclusion() {
			return head + "no conclusion: too few runs for a significant difference"
		}
		return head + fmt.Sprintf("no significant difference (%s)", c.Method())
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

// maxPlannedRuns is where the runs-for-power plan stops counting.
const maxPlannedRuns = 1000

// PowerNote says how many runs a side would detect a change with 80%
// power at the spread of these runs: for every metric with --detect, else
// for the metrics whose observed change was not significant (a significant
// one needs no more runs). "" when there is nothing to say.
func (c *Comparison) PowerNote() string {
	var parts []string
	for _, mc := range c.Metrics {
		if mc.RunsForPower == 0 {
			continue
		}
		if c.Detect == 0 && mc.Significant {
			continue
		}
		n := strconv.Itoa(mc.RunsForPower)
		if mc.RunsForPower > maxPlannedRuns {
			// A change this small against this spread: no series of
			// runs a person would make finds it.
			n = fmt.Sprintf("more than %d", maxPlannedRuns)
		}
		parts = append(parts, fmt.Sprintf("%s %s: %s", mc.Metric, formatChangeIn(mc.PowerChange, mc.Metric.ChangeUnit()), n))
	}
	if len(parts) == 0 {
		return ""
	}
	what := "the observed change"
	if c.Detect > 0 {
		what = "the change asked for"
	}
	return fmt.Sprintf("runs a side to detect %s with %.0f%% power at this spread (%s vs %s): %s",
		what, 100*DefaultPower, orDefault(c.OtherName, "other"), orDefault(c.BaseName, "base"), strings.Join(parts, ", "))
}
