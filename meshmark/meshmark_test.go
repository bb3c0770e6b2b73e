package meshmark

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/smp-project/smp/spec"
)

func usage(component, class string, used, assigned, w float64) *spec.ResourceUsage {
	return &spec.ResourceUsage{Component: component, Class: class, Used: used, Assigned: assigned, Weight: w}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9 }

func TestMUE(t *testing.T) {
	tests := []struct{ used, assigned, want float64 }{
		{0, 100, 1},
		{36, 100, 0.64},  // the published example: (100 − 36%) / 100
		{100, 100, 0},    // all of the assignment used
		{150, 100, 0},    // over the assignment (bursting to a limit): clamped
		{180, 500, 0.64}, // 180 of 500 mcores
		{96, 128, 0.25},  // 96 of 128 MiB
	}
	for _, tt := range tests {
		if got := MUE(tt.used, tt.assigned); !near(got, tt.want) {
			t.Errorf("MUE(%v, %v) = %v, want %v", tt.used, tt.assigned, got, tt.want)
		}
	}
}

func TestLatencyMUE(t *testing.T) {
	tests := []struct{ slo, achieved, want float64 }{
		{25, 20, 1},      // objective met: full marks, no bonus
		{25, 25, 1},      // exactly met
		{25, 50, 0.5},    // p99 twice the objective
		{25, 31.25, 0.8}, // 25 / 31.25
	}
	for _, tt := range tests {
		if got := LatencyMUE(tt.slo, tt.achieved); !near(got, tt.want) {
			t.Errorf("LatencyMUE(%v, %v) = %v, want %v", tt.slo, tt.achieved, got, tt.want)
		}
	}
}

// TestCompute_EachClass computes one class at a time; every expected number
// is worked out by hand in the comment beside it.
func TestCompute_EachClass(t *testing.T) {
	tests := []struct {
		name       string
		in         Input
		wantClass  []string
		wantScores []float64
		wantScore  float64
	}{
		{
			// (1 − 200/1000 + 1 − 600/1000) / 2 = (0.8 + 0.4) / 2 = 0.6
			name:       "cpu",
			in:         Input{Resources: []*spec.ResourceUsage{usage("sidecar", "cpu", 200, 1000, 0), usage("control_plane", "cpu", 600, 1000, 0)}},
			wantClass:  []string{"cpu"},
			wantScores: []float64{0.6},
			wantScore:  60,
		},
		{
			// 1 − 64/256 = 0.75
			name:       "memory",
			in:         Input{Resources: []*spec.ResourceUsage{usage("sidecar", "memory", 64, 256, 0)}},
			wantClass:  []string{"memory"},
			wantScores: []float64{0.75},
			wantScore:  75,
		},
		{
			// (1 − 100/1000 + 1 − 1200/1000 → 0) / 2 = 0.45
			name:       "network",
			in:         Input{Resources: []*spec.ResourceUsage{usage("ingress_gateway", "network", 100, 1000, 0), usage("sidecar", "network", 1200, 1000, 0)}},
			wantClass:  []string{"network"},
			wantScores: []float64{0.45},
			wantScore:  45,
		},
		{
			// cpu 1 − 500/1000 = 0.5; latency min(1, 20/40) = 0.5;
			// 100 × (0.5 + 0.5) / 2 = 50
			name: "latency missed",
			in: Input{Resources: []*spec.ResourceUsage{usage("sidecar", "cpu", 500, 1000, 0)},
				ServiceLevel: ServiceLevel{SLOP99Ms: 20, AchievedP99Ms: 40}},
			wantClass:  []string{"cpu", "latency"},
			wantScores: []float64{0.5, 0.5},
			wantScore:  50,
		},
		{
			// cpu 0.5; latency met: 1; 100 × 1.5 / 2 = 75
			name: "latency met",
			in: Input{Resources: []*spec.ResourceUsage{usage("sidecar", "cpu", 500, 1000, 0)},
				ServiceLevel: ServiceLevel{SLOP99Ms: 20, AchievedP99Ms: 10}},
			wantClass:  []string{"cpu", "latency"},
			wantScores: []float64{0.5, 1},
			wantScore:  75,
		},
		{
			// Classes come out in the fixed order cpu, memory, network
			// whatever the input order: (0.9 + 0.5 + 0.2) / 3 × 100.
			name: "order",
			in: Input{Resources: []*spec.ResourceUsage{usage("s", "network", 80, 100, 0),
				usage("s", "memory", 50, 100, 0), usage("s", "cpu", 10, 100, 0)}},
			wantClass:  []string{"cpu", "memory", "network"},
			wantScores: []float64{0.9, 0.5, 0.2},
			wantScore:  (0.9 + 0.5 + 0.2) / 3 * 100,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mm, err := Compute(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(mm.Classes) != len(tt.wantClass) {
				t.Fatalf("classes %v, want %v", mm.Classes, tt.wantClass)
			}
			for i, c := range mm.Classes {
				if c.Class != tt.wantClass[i] || !near(c.Score, tt.wantScores[i]) {
					t.Errorf("class %d: %s %v, want %s %v", i, c.Class, c.Score, tt.wantClass[i], tt.wantScores[i])
				}
			}
			if !near(mm.Score, tt.wantScore) || mm.Method != Method {
				t.Errorf("score %v (%s), want %v", mm.Score, mm.Method, tt.wantScore)
			}
		})
	}
}

func TestCompute_Weights(t *testing.T) {
	tests := []struct {
		name      string
		w         []float64
		wantClass float64
		wantScore float64
	}{
		// Two cpu figures, MUE 0.8 and 0.4 (used 20 and 60 of 100).
		{"default weights", []float64{0, 0}, (0.8*1 + 0.4*1) / 2, 60},
		// (0.8 × 1.5 + 0.4 × 0.5) / 2 = (1.2 + 0.2) / 2 = 0.7
		{"bounds", []float64{0.5, -0.5}, 0.7, 70},
		// (0.8 × 0.5 + 0.4 × 1.5) / 2 = (0.4 + 0.6) / 2 = 0.5
		{"bounds swapped", []float64{-0.5, 0.5}, 0.5, 50},
		// (0.8 × 1.25 + 0.4 × 1) / 2 = (1.0 + 0.4) / 2 = 0.7
		{"one adjusted", []float64{0.25, 0}, 0.7, 70},
	}
	for _, tt := range tests {
		mm, err := Compute(Input{Resources: []*spec.ResourceUsage{
			usage("sidecar", "cpu", 20, 100, tt.w[0]), usage("gateway", "cpu", 60, 100, tt.w[1])}})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !near(mm.Classes[0].Score, tt.wantClass) || !near(mm.Score, tt.wantScore) {
			t.Errorf("%s: class %v score %v, want %v and %v", tt.name, mm.Classes[0].Score, mm.Score, tt.wantClass, tt.wantScore)
		}
		if got := mm.Classes[0].Terms[0].Weight; !near(got, 1+tt.w[0]) {
			t.Errorf("%s: stored weight %v, want %v", tt.name, got, 1+tt.w[0])
		}
	}
	// Weights above 1 can lift the mean over 1: 1 × 1.5 = 1.5 → 150,
	// clamped to 100.
	mm, err := Compute(Input{Resources: []*spec.ResourceUsage{usage("sidecar", "cpu", 0, 100, 0.5)}})
	if err != nil {
		t.Fatal(err)
	}
	if mm.Classes[0].Score != 1.5 || mm.Score != 100 {
		t.Errorf("clamp: class %v score %v, want 1.5 and 100", mm.Classes[0].Score, mm.Score)
	}
}

func TestCompute_Rejects(t *testing.T) {
	ok := usage("sidecar", "cpu", 1, 2, 0)
	tests := []struct {
		name string
		in   Input
		want string
	}{
		{"weight above", Input{Resources: []*spec.ResourceUsage{ok, usage("sidecar", "memory", 1, 2, 0.51)}}, "resources[1].weight: 0.51: outside [-0.5, +0.5]"},
		{"weight below", Input{Resources: []*spec.ResourceUsage{usage("sidecar", "cpu", 1, 2, -0.6)}}, "resources[0].weight: -0.6: outside"},
		{"weight NaN", Input{Resources: []*spec.ResourceUsage{usage("sidecar", "cpu", 1, 2, math.NaN())}}, "resources[0].weight"},
		{"class case", Input{Resources: []*spec.ResourceUsage{usage("sidecar", "CPU", 1, 2, 0)}}, `resources[0].class: "CPU": want one of cpu, memory, network`},
		{"class unknown", Input{Resources: []*spec.ResourceUsage{usage("sidecar", "disk", 1, 2, 0)}}, "resources[0].class"},
		{"latency as a resource", Input{Resources: []*spec.ResourceUsage{usage("sidecar", "latency", 1, 2, 0)}}, "resources[0].class"},
		{"assigned zero", Input{Resources: []*spec.ResourceUsage{usage("sidecar", "cpu", 1, 0, 0)}}, "resources[0].assigned"},
		{"used negative", Input{Resources: []*spec.ResourceUsage{usage("sidecar", "cpu", -1, 2, 0)}}, "resources[0].used"},
		{"used infinite", Input{Resources: []*spec.ResourceUsage{usage("sidecar", "cpu", math.Inf(1), 2, 0)}}, "resources[0].used"},
		{"no component", Input{Resources: []*spec.ResourceUsage{usage(" ", "cpu", 1, 2, 0)}}, "resources[0].component"},
		{"nil figure", Input{Resources: []*spec.ResourceUsage{nil}}, "resources[0]: missing"},
		{"no figures", Input{ServiceLevel: ServiceLevel{SLOP99Ms: 25, AchievedP99Ms: 20}}, "no resource figures"},
		{"SLO without achieved", Input{Resources: []*spec.ResourceUsage{ok}, ServiceLevel: ServiceLevel{SLOP99Ms: 25}}, "needs the achieved p99"},
		{"SLO negative", Input{Resources: []*spec.ResourceUsage{ok}, ServiceLevel: ServiceLevel{SLOP99Ms: -1, AchievedP99Ms: 2}}, "SLO p99 -1 ms"},
		{"latency weight", Input{Resources: []*spec.ResourceUsage{ok}, ServiceLevel: ServiceLevel{SLOP99Ms: 25, AchievedP99Ms: 20, Weight: 0.7}}, "service_level.weight"},
	}
	for _, tt := range tests {
		_, err := Compute(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

// workedExample is the MeshMark example of the README.
func workedExample() Input {
	return Input{
		Resources: []*spec.ResourceUsage{
			{Component: "sidecar", Class: "cpu", Used: 180, Assigned: 500, Unit: "mcores"},
			{Component: "ingress_gateway", Class: "cpu", Used: 300, Assigned: 1000, Unit: "mcores", Weight: 0.2},
			{Component: "control_plane", Class: "cpu", Used: 50, Assigned: 500, Unit: "mcores", Weight: -0.5},
			{Component: "sidecar", Class: "memory", Used: 96, Assigned: 128, Unit: "MiB"},
			{Component: "control_plane", Class: "memory", Used: 256, Assigned: 1024, Unit: "MiB"},
			{Component: "sidecar", Class: "network", Used: 40, Assigned: 1000, Unit: "Mbps"},
		},
		ServiceLevel: ServiceLevel{SLOP99Ms: 25, AchievedP99Ms: 31.25},
	}
}

// TestWorkedExample recomputes the README's example by hand:
//
//	cpu:     sidecar         1 − 180/500  = 0.64, weight 1.0 → 0.64
//	         ingress_gateway 1 − 300/1000 = 0.70, weight 1.2 → 0.84
//	         control_plane   1 − 50/500   = 0.90, weight 0.5 → 0.45
//	         class: (0.64 + 0.84 + 0.45) / 3 = 1.93 / 3 = 0.643333…
//	memory:  sidecar 1 − 96/128 = 0.25; control_plane 1 − 256/1024 = 0.75
//	         class: (0.25 + 0.75) / 2 = 0.5
//	network: sidecar 1 − 40/1000 = 0.96; class 0.96
//	latency: min(1, 25 / 31.25) = 0.8; class 0.8
//	score:   100 × (0.643333… + 0.5 + 0.96 + 0.8) / 4 = 100 × 2.903333… / 4
//	       = 72.583333…
func TestWorkedExample(t *testing.T) {
	mm, err := Compute(workedExample())
	if err != nil {
		t.Fatal(err)
	}
	cpu := (0.64 + 0.84 + 0.45) / 3
	memory := (0.25 + 0.75) / 2
	network := 0.96 / 1
	latency := 0.8 / 1
	want := 100 * (cpu + memory + network + latency) / 4
	if !near(want, 72.58333333333333) {
		t.Fatalf("hand arithmetic: %v", want)
	}
	if !near(mm.Score, want) {
		t.Errorf("score %v, want %v", mm.Score, want)
	}
	for i, w := range []float64{cpu, memory, network, latency} {
		if !near(mm.Classes[i].Score, w) {
			t.Errorf("class %s: %v, want %v", mm.Classes[i].Class, mm.Classes[i].Score, w)
		}
	}
	if mm.SloP99Ms != 25 || mm.AchievedP99Ms != 31.25 {
		t.Errorf("service level stored as %v / %v", mm.SloP99Ms, mm.AchievedP99Ms)
	}
	lt := mm.Classes[3].Terms[0]
	if lt.Component != LatencyComponent || lt.Used != 31.25 || lt.Assigned != 25 || lt.Mue != 0.8 || lt.Weight != 1 {
		t.Errorf("latency term %v", lt)
	}
	if s, err := Recompute(mm); err != nil || !near(s, want) {
		t.Errorf("Recompute = %v, %v", s, err)
	}

	var b bytes.Buffer
	if err := WriteBreakdown(&b, "example.yaml", mm); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Logf("\n%s", out)
	for _, line := range []string{
		"MeshMark 72.58 / 100  example.yaml  (smp-meshmark/v1)",
		"cpu      (0.6400 + 0.8400 + 0.4500) / 3 = 0.6433",
		"memory   (0.2500 + 0.7500) / 2 = 0.5000",
		"network  (0.9600) / 1 = 0.9600",
		"latency  (0.8000) / 1 = 0.8000",
		"score    100 × (0.6433 + 0.5000 + 0.9600 + 0.8000) / 4 = 72.58",
		"latency  MUE = min(1, SLO p99 25ms / achieved p99 31.25ms)",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("breakdown lacks %q", line)
		}
	}
}

func TestRecompute_Detects(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(mm *spec.MeshMark)
		want   string
	}{
		{"score", func(mm *spec.MeshMark) { mm.Score = 80 }, "score: stored 80"},
		{"class score", func(mm *spec.MeshMark) { mm.Classes[1].Score = 0.9 }, "classes[1].score"},
		{"mue", func(mm *spec.MeshMark) { mm.Classes[0].Terms[2].Mue = 0.1 }, "classes[0].terms[2].mue"},
		{"used", func(mm *spec.MeshMark) { mm.Classes[2].Terms[0].Used = 400 }, "classes[2].terms[0].mue"},
		{"latency", func(mm *spec.MeshMark) { mm.Classes[3].Terms[0].Used = 50 }, "classes[3].terms[0].mue"},
		{"weight", func(mm *spec.MeshMark) { mm.Classes[0].Terms[0].Weight = 2 }, "classes[0].terms[0].weight"},
		{"method", func(mm *spec.MeshMark) { mm.Method = "v0" }, `method "v0"`},
		{"class", func(mm *spec.MeshMark) { mm.Classes[0].Class = "disk" }, `unknown class "disk"`},
	}
	for _, tt := range tests {
		mm, err := Compute(workedExample())
		if err != nil {
			t.Fatal(err)
		}
		tt.tamper(mm)
		if _, err := Recompute(mm); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
	if _, err := Recompute(nil); err == nil {
		t.Error("nil: want an error")
	}
}

func result(p99s ...float64) *spec.PerformanceTestResult {
	r := &spec.PerformanceTestResult{}
	for _, p := range p99s {
		r.Runs = append(r.Runs, &spec.PerformanceTestResult{LatenciesMs: &spec.PerformanceTestResult_Latency{P99: p}})
	}
	return r
}

func TestScoreResult(t *testing.T) {
	t.Run("resources in the result, SLO from the flag, p99 the median of the runs", func(t *testing.T) {
		r := result(30, 50, 40)
		r.Resources = []*spec.ResourceUsage{usage("sidecar", "cpu", 250, 1000, 0)}
		mm, err := ScoreResult(r, nil, 20)
		if err != nil {
			t.Fatal(err)
		}
		// cpu 0.75; latency min(1, 20/40) = 0.5; 100 × 1.25 / 2 = 62.5
		if mm.AchievedP99Ms != 40 || !near(mm.Score, 62.5) || r.Meshmark != mm {
			t.Errorf("achieved %v score %v", mm.AchievedP99Ms, mm.Score)
		}
	})
	t.Run("measurements replace the result's figures", func(t *testing.T) {
		r := result(10)
		r.Resources = []*spec.ResourceUsage{usage("sidecar", "cpu", 250, 1000, 0)}
		m := &Measurements{
			Resources:    []*spec.ResourceUsage{usage("sidecar", "memory", 50, 100, 0)},
			ServiceLevel: ServiceLevel{SLOP99Ms: 25, AchievedP99Ms: 50},
		}
		mm, err := ScoreResult(r, m, 0)
		if err != nil {
			t.Fatal(err)
		}
		// memory 0.5; latency 25/50 = 0.5 → 50
		if !near(mm.Score, 50) || len(r.Resources) != 1 || r.Resources[0].Class != "memory" {
			t.Errorf("score %v resources %v", mm.Score, r.Resources)
		}
	})
	t.Run("the flag overrides the measurements' SLO", func(t *testing.T) {
		r := result(10)
		m := &Measurements{Resources: []*spec.ResourceUsage{usage("sidecar", "cpu", 0, 100, 0)}, ServiceLevel: ServiceLevel{SLOP99Ms: 5}}
		mm, err := ScoreResult(r, m, 20)
		if err != nil {
			t.Fatal(err)
		}
		if mm.SloP99Ms != 20 || mm.AchievedP99Ms != 10 || mm.Score != 100 {
			t.Errorf("%v", mm)
		}
	})
	t.Run("no SLO, no latency class", func(t *testing.T) {
		r := result(10)
		r.Resources = []*spec.ResourceUsage{usage("sidecar", "cpu", 30, 100, 0)}
		mm, err := ScoreResult(r, nil, 0)
		if err != nil || len(mm.Classes) != 1 || !near(mm.Score, 70) {
			t.Errorf("%v, %v", mm, err)
		}
	})
	t.Run("SLO without latencies", func(t *testing.T) {
		r := &spec.PerformanceTestResult{Resources: []*spec.ResourceUsage{usage("sidecar", "cpu", 30, 100, 0)}}
		if _, err := ScoreResult(r, nil, 20); err == nil || !strings.Contains(err.Error(), "achieved p99") {
			t.Errorf("err = %v", err)
		}
		if r.Meshmark != nil {
			t.Error("a failed score must leave the result alone")
		}
	})
}
