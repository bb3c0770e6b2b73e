package stats

import (
	"math"
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

func TestBudgetExceeds(t *testing.T) {
	tests := []struct {
		name   string
		budget Budget
		mc     MetricComparison
		want   bool
	}{
		{"latency up, significant, over budget", Budget{P50, 5}, MetricComparison{Metric: P50, Change: 20, Significant: true}, true},
		{"latency up, not significant", Budget{P50, 5}, MetricComparison{Metric: P50, Change: 20}, false},
		{"latency up, within budget", Budget{P50, 5}, MetricComparison{Metric: P50, Change: 4.9, Significant: true}, false},
		{"latency down is better", Budget{P99, 5}, MetricComparison{Metric: P99, Change: -30, Significant: true}, false},
		{"qps down, over budget", Budget{QPS, 2}, MetricComparison{Metric: QPS, Change: -3, Significant: true}, true},
		{"qps up is better", Budget{QPS, 2}, MetricComparison{Metric: QPS, Change: 30, Significant: true}, false},
		{"qps down within budget", Budget{QPS, 2}, MetricComparison{Metric: QPS, Change: -1.5, Significant: true}, false},
		// The error rate's change and budget are percentage points.
		{"errors up 0.5pp, budget 0.1pp", Budget{Errors, 0.1}, MetricComparison{Metric: Errors, Change: 0.5, Significant: true}, true},
		{"errors up 0.05pp, budget 0.1pp", Budget{Errors, 0.1}, MetricComparison{Metric: Errors, Change: 0.05, Significant: true}, false},
		{"latency from zero", Budget{Max, 100}, MetricComparison{Metric: Max, Change: math.Inf(1), Significant: true}, true},
		{"zero budget, any significant worsening", Budget{P90, 0}, MetricComparison{Metric: P90, Change: 0.1, Significant: true}, true},
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
			Test: MannWhitneyResult{P: 0.0021645}, Significant: true},
		{Metric: QPS, Change: -0.1, HasTest: true, Test: MannWhitneyResult{P: 0.5}},
	}}
	fails, err := c.CheckBudgets([]Budget{{P50, 5}, {QPS, 1}})
	if err != nil {
		t.Fatal(err)
	}
	want := "p50 regressed: mesh vs baseline +20.0% [+18.1%, +22.3%] (p=0.002), budget p50=5%"
	if len(fails) != 1 || fails[0] != want {
		t.Errorf("failures %q, want [%q]", fails, want)
	}
	if _, err := c.CheckBudgets([]Budget{{P999, 5}}); err == nil {
		t.Error("budget on a metric the results lack: want an error")
	}
}
