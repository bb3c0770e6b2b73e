package stats

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Budget is the largest regression allowed for a metric
// (--max-regression p50=5%): in percent of the baseline median, or for the
// error rate in percentage points (errors=0.1% lets the error rate rise by
// 0.1 points, from 0.05% to 0.15% say).
type Budget struct {
	Metric Metric
	// MaxPct is the allowed change in the worse direction, in the metric's
	// change unit (Metric.ChangeUnit): up for latencies and the error rate,
	// down for qps.
	MaxPct float64
}

func (b Budget) String() string {
	return fmt.Sprintf("%s=%s%%", b.Metric, strconv.FormatFloat(b.MaxPct, 'f', -1, 64))
}

// ParseBudget parses "metric=N%" (the % may be left out): p50=5%,
// qps=2%, errors=10%.
func ParseBudget(s string) (Budget, error) {
	name, val, ok := strings.Cut(s, "=")
	if !ok {
		return Budget{}, fmt.Errorf("regression budget %q: want metric=N%%, e.g. p50=5%%", s)
	}
	m, err := ParseMetric(name)
	if err != nil {
		return Budget{}, fmt.Errorf("regression budget %q: %w", s, err)
	}
	num := strings.TrimSuffix(strings.TrimSpace(val), "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return Budget{}, fmt.Errorf("regression budget %q: %q is not a non-negative percentage", s, val)
	}
	return Budget{Metric: m, MaxPct: v}, nil
}

// Exceeds reports whether the comparison breaks the budget (see Check).
func (b Budget) Exceeds(mc MetricComparison) bool {
	fail, _ := b.Check(mc)
	return fail
}

// Check decides the gate on the change interval, not on the point change:
// the metric passes only when the interval's worse end (its upper end for
// latencies and the error rate, its lower end for qps) is within the
// budget, that is when the runs show, at the interval's confidence, that
// the change is no larger than allowed. A noisy regression, whose interval
// reaches past the budget, fails even when its point change is small or not
// significant; a metric without an interval (too few runs: fewer than 4 a
// side at 95%) fails too, since nothing bounds its change. why says which
// bound crossed, or that there was none.
func (b Budget) Check(mc MetricComparison) (fail bool, why string) {
	if !mc.HasChangeInterval {
		if math.IsNaN(mc.Change) {
			return false, ""
		}
		return true, fmt.Sprintf("no %s interval with %d and %d runs (needs %d a side): the change cannot be bounded",
			"change", mc.Base.N, mc.Other.N, MinShiftRuns(orConfidence(mc.ChangeConfidence)))
	}
	if mc.Metric.Worse() == LowerIsWorse {
		if mc.ChangeLow < -b.MaxPct {
			return true, "its interval's lower end " + formatChangeIn(mc.ChangeLow, mc.Metric.ChangeUnit()) + " is below −" + strings.TrimPrefix(formatChangeIn(b.MaxPct, mc.Metric.ChangeUnit()), "+")
		}
		return false, ""
	}
	if mc.ChangeHigh > b.MaxPct {
		return true, "its interval's upper end " + formatChangeIn(mc.ChangeHigh, mc.Metric.ChangeUnit()) + " is above " + formatChangeIn(b.MaxPct, mc.Metric.ChangeUnit())
	}
	return false, ""
}

func orConfidence(c float64) float64 {
	if c > 0 && c < 1 {
		return c
	}
	return DefaultConfidence
}

// CheckBudgets returns one line per budget the comparison exceeds (see
// Budget.Check), naming the metric, the change with its interval and p,
// why it fails, and the budget. A metric the baseline carries and the
// variant lacks (a variant with no successful request has no latency)
// fails the budget. A budget for a metric that the baseline lacks is an
// error: a gate must not pass because it could not look.
func (c *Comparison) CheckBudgets(budgets []Budget) ([]string, error) {
	var fails []string
	for _, b := range budgets {
		mc, ok := c.metric(b.Metric)
		if ok && mc.Missing {
			// The variant lacks what the baseline has: it fails the gate.
			fails = append(fails, fmt.Sprintf("%s regressed: %s vs %s: %s, budget %s",
				b.Metric, orDefault(c.OtherName, "other"), orDefault(c.BaseName, "base"), mc.MissingText(), b))
			continue
		}
		if !ok || !mc.HasTest {
			return nil, fmt.Errorf("--max-regression %s: %s vs %s: the metric is not in both results",
				b, orDefault(c.OtherName, "other"), orDefault(c.BaseName, "base"))
		}
		if fail, why := b.Check(mc); fail {
			fails = append(fails, fmt.Sprintf("%s regressed: %s vs %s %s (%s): %s, budget %s",
				b.Metric, orDefault(c.OtherName, "other"), orDefault(c.BaseName, "base"),
				changeWithInterval(mc), mc.PText(), why, b))
		}
	}
	return fails, nil
}

func (c *Comparison) metric(m Metric) (MetricComparison, bool) {
	for _, mc := range c.Metrics {
		if mc.Metric == m {
			return mc, true
		}
	}
	return MetricComparison{}, false
}

func changeWithInterval(mc MetricComparison) string {
	s := mc.ChangeText()
	if mc.HasChangeInterval {
		s += " " + mc.IntervalText()
	}
	return s
}
