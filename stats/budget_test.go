package stats

import (
	"strings"
	"testing"
)

func TestParseBudget(t *testing.T) {
	tests := []struct {
		in      string
		want    Budget
		wantErr string
	}{
		{"p50=5%", Budget{P50, 5}, ""},
		{"p99.9=12.5", Budget{P999, 12.5}, ""},
		{"qps=2%", Budget{QPS, 2}, ""},
		{"error_rate=0%", Budget{Errors, 0}, ""},
		{"p50", Budget{}, "want metric=N%"},
		{"p42=5%", Budget{}, "unknown metric"},
		{"p50=-1%", Budget{}, "non-negative"},
		{"p50=abc", Budget{}, "non-negative"},
		{"p50=NaN%", Budget{}, "non-negative"},
	}
	for _, tt := range tests {
		got, err := ParseBudget(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if s := (Budget{P50, 5}).String(); s != "p50=5%" {
		t.Errorf("String() = %q", s)
	}
}

// TestBudgetExceeds: the gate is on the interval's worse end, not on the
// point change or its p value.
func TestBudgetExceeds(t *testing.T) {
	iv := func(m Metric, change, lo, hi float64) MetricComparison {
		return MetricComparison{Metric: m, Change: change, HasChangeInterval: true, ChangeLow: lo, ChangeHigh: hi, HasTest: true,
			Base: Summary{N: 6}, Other: Summary{N: 6}}
	}
	tests := []struct {
		name   string
		budget Budget
		mc     MetricComparison
		want   bool
	}{
		{"interval beyond budget", Budget{P50, 5}, iv(P50, 20, 18, 22), true},
		{"point within budget, interval reaches past it (noisy)", Budget{P50, 5}, iv(P50, 2, -8, 12), true},
		{"point beyond budget, interval not (cannot happen often, passes)", Budget{P50, 5}, iv(P50, 5.5, 1, 4.9), false},
		{"interval within budget", Budget{P50, 5}, iv(P50, 2, 0.5, 4.9), false},
		{"latency down is better", Budget{P99, 5}, iv(P99, -30, -35, -25), false},
		{"qps down, lower end past budget", Budget{QPS, 2}, iv(QPS, -1, -3, 0.5), true},
		{"qps up is better", Budget{QPS, 2}, iv(QPS, 30, 25, 35), false},
		{"qps down within budget", Budget{QPS, 2}, iv(QPS, -1.5, -1.9, -1), false},
		// The error rate's change and budget are percentage points.
		{"errors up to 0.5pp, budget 0.1pp", Budget{Errors, 0.1}, iv(Errors, 0.05, 0, 0.5), true},
		{"errors up to 0.05pp, budget 0.1pp", Budget{Errors, 0.1}, iv(Errors, 0.02, 0, 0.05), false},
		{"zero budget, upper end above zero", Budget{P90, 0}, iv(P90, 0, -1, 0.1), true},
		{"no interval: cannot be bounded", Budget{P50, 50}, MetricComparison{Metric: P50, Change: 1, HasTest: true}, true},
	}
	for _, tt := range tests {
		if got := tt.budget.Exceeds(tt.mc); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCheckBudgets(t *testing.T) {
	c := &Comparison{BaseName: "baseline", OtherName: "mesh", Metrics: []MetricComparison{
		{Metric: P50, Change: 20.04, HasChangeInterval: true, ChangeLow: 18.1, ChangeHigh: 22.3, HasTest: true,
			Test: MannWhitneyResult{P: 0.0021645}, AdjustedP: 0.015, Significant: true},
		{Metric: QPS, Change: -0.1, HasChangeInterval: true, ChangeLow: -0.5, ChangeHigh: 0.3, HasTest: true,
			Test: MannWhitneyResult{P: 0.5}, AdjustedP: 1},
	}}
	fails, err := c.CheckBudgets([]Budget{{P50, 5}, {QPS, 1}})
	if err != nil {
		t.Fatal(err)
	}
	want := "p50 regressed: mesh vs baseline +20.0% [+18.1%, +22.3%] (p=0.002→0.015): its interval's upper end +22.3% is above +5.00%, budget p50=5%"
	if len(fails) != 1 || fails[0] != want {
		t.Errorf("failures %q, want [%q]", fails, want)
	}
	if _, err := c.CheckBudgets([]Budget{{P999, 5}}); err == nil {
		t.Error("budget on a metric the results lack: want an error")
	}
}
