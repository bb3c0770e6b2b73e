package stats

import (
	"math"
	"strings"
	"testing"

	"github.com/smp-project/smp/spec"
)

func TestParseSLO(t *testing.T) {
	tests := []struct {
		in      string
		want    SLO
		wantErr string
	}{
		{"p99<25ms", SLO{P99, "<", 25, "p99<25ms"}, ""},
		{"p99 <= 1.5s", SLO{P99, "<=", 1500, "p99 <= 1.5s"}, ""},
		{"p50<800us", SLO{P50, "<", 0.8, "p50<800us"}, ""},
		{"p99.9<40ms", SLO{P999, "<", 40, "p99.9<40ms"}, ""},
		{"p99<5", SLO{}, `"5" has no unit: want a duration such as 5ms, 5us or 5s`},
		{"errors<0.1%", SLO{Errors, "<", 0.1, "errors<0.1%"}, ""},
		{"qps>=990", SLO{QPS, ">=", 990, "qps>=990"}, ""},
		{"qps>990rps", SLO{QPS, ">", 990, "qps>990rps"}, ""},
		{"p99=25ms", SLO{}, "want metric<value"},
		{"<25ms", SLO{}, "want metric<value"},
		{"p42<1", SLO{}, "unknown metric"},
		{"p99<fast", SLO{}, "want a duration"},
		{"errors<lots", SLO{}, "want a percentage"},
		{"qps>-1", SLO{}, "finite number"},
	}
	for _, tt := range tests {
		got, err := ParseSLO(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestSLOCheck(t *testing.T) {
	r := run(1.2, 31.2, 995, 10000, 20) // error rate 0.2%
	for _, tt := range []struct {
		slo   string
		ok    bool
		value float64
	}{{"p99<25ms", false, 31.2}, {"errors<0.1%", false, 0.2}, {"qps>=990", true, 995}, {"p50<=1.2ms", true, 1.2}} {
		slo, err := ParseSLO(tt.slo)
		if err != nil {
			t.Fatal(err)
		}
		ok, v, err := slo.Check(r)
		if err != nil || ok != tt.ok || math.Abs(v-tt.value) > 1e-9 {
			t.Errorf("%s: %v %v %v, want %v %v", tt.slo, ok, v, err, tt.ok, tt.value)
		}
		if _, _, err := slo.Check(&spec.PerformanceTestResult{}); err == nil {
			t.Errorf("%s: a result without figures: want an error", tt.slo)
		}
	}
	// No successful request: a latency objective fails as missing, even
	// with latency fields left over (an old document's zeros).
	dead := run(0, 0, 100, 100, 100)
	for _, text := range []string{"p99<25ms", "p50<1ms", "max<1s"} {
		slo, _ := ParseSLO(text)
		ok, _, err := slo.Check(dead)
		if ok || err == nil || !strings.Contains(err.Error(), "no successful requests") {
			t.Errorf("%s on a total failure: ok %v err %v, want a failure saying no successful requests", text, ok, err)
		}
	}
	// A result with runs only: the median of the runs.
	multi := &spec.PerformanceTestResult{Runs: []*spec.PerformanceTestResult{run(1, 10, 1000, 100, 0), run(1, 30, 1000, 100, 0), run(1, 20, 1000, 100, 0)}}
	p999, _ := ParseSLO("p99.9<31ms")
	if ok, v, err := p999.Check(multi); err != nil || !ok || v != 30 {
		t.Errorf("runs median: %v %v %v", ok, v, err)
	}
}
