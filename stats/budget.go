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

// Exceeds reports whether the comparison breaks the budget: the change is
// significant, in the metric's worse direction, and larger than the budget.
// A change that is not significant never exceeds a budget.
func (b Budget) Exceeds(mc MetricComparison) bool {
	if !mc.Significant || math.IsNaN(mc.Change) {
		return false
	}
	if mc.Metric.Worse() == LowerIsWorse {
		return mc.Change < -b.MaxPct
	}
	return mc.Change > b.MaxPct
}

// CheckBudgets returns one line per budget the comparison exceeds, naming the
// metric, the change with its interval and p, and the budget. A metric the
// baseline carries and the variant lacks (a variant with no successful
// request has no latency) fails the budget. A budget for a metric that the
// baseline lacks is an error: a gate must not pass because it could not look.
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
		if b.Exceeds(mc) {
			fails = append(fails, fmt.Sprintf("%s regressed: %s vs %s %s (p=%s), budget %s",
				b.Metric, orDefault(c.OtherName, "other"), orDefault(c.BaseName, "base"),
				changeWithInterval(mc), FormatP(mc.Test.P), b))
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
