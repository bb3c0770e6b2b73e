package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smp-project/smp/spec"
)

// resultWithRuns writes a result whose runs have the given p50 values (ms);
// the other metrics scale with p50 so every metric has a clear direction.
func resultWithRuns(t *testing.T, name string, p50s ...float64) string {
	t.Helper()
	r := &spec.PerformanceTestResult{Name: name}
	for _, v := range p50s {
		r.Runs = append(r.Runs, &spec.PerformanceTestResult{
			LatenciesMs: &spec.PerformanceTestResult_Latency{P50: v, P90: 2 * v, P99: 3 * v, Max: 10 * v},
			ActualQps:   1000,
			Requests:    &spec.PerformanceTestResult_Requests{Total: 1000, Ok: 1000},
		})
	}
	p := filepath.Join(t.TempDir(), name+".yaml")
	if err := spec.WriteFile(p, r); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCompareCommand(t *testing.T) {
	base := resultWithRuns(t, "baseline", 1.00, 1.01, 0.99, 1.02, 0.98, 1.00)
	mesh := resultWithRuns(t, "mesh", 1.20, 1.21, 1.19, 1.22, 1.18, 1.20)
	same := resultWithRuns(t, "same", 1.01, 0.99, 1.00, 0.98, 1.02, 1.00)
	cfg := writeFile(t, "cfg.yaml", "duration: 1s\nclients:\n- endpoint_urls: [http://127.0.0.1:1/]\n")
	tests := []struct {
		name       string
		args       []string
		code       int
		wantOut    []string
		wantStderr []string
	}{
		{"significant change", []string{"compare", base, mesh}, 0, []string{"p50", "+20", "baseline", "mesh"}, nil},
		{"markdown table", []string{"compare", "--format", "markdown", base, mesh}, 0, []string{"| p50 (ms) | 1.000", "| --- |"}, nil},
		{"budget exceeded", []string{"compare", base, mesh, "--max-regression", "p50=5%"}, 1, nil, []string{"p50"}},
		{"budget kept", []string{"compare", base, mesh, "--max-regression", "p50=25%"}, 0, nil, nil},
		{"no change is not a regression", []string{"compare", base, same, "--max-regression", "p50=0.1%"}, 0, []string{"~"}, nil},
		{"bad format", []string{"compare", "--format", "xml", base, mesh}, 2, nil, []string{"--format"}},
		{"bad budget", []string{"compare", base, mesh, "--max-regression", "p50"}, 2, nil, []string{"--max-regression"}},
		{"config is not a result", []string{"compare", base, cfg}, 2, nil, []string{"not a result"}},
		{"one file", []string{"compare", base}, 2, nil, []string{"compare needs two results or more"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := smp(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, stderr)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

func TestMeshmarkCommand(t *testing.T) {
	res := resultWithRuns(t, "r", 1)
	m := writeFile(t, "m.yaml", `service_level: {slo_p99_ms: 25, achieved_p99_ms: 31.25}
resources:
  - {component: sidecar, class: cpu, used: 180, assigned: 500, unit: mcores}
  - {component: ingress_gateway, class: cpu, used: 300, assigned: 1000, unit: mcores, weight: 0.2}
  - {component: control_plane, class: cpu, used: 50, assigned: 500, unit: mcores, weight: -0.5}
  - {component: sidecar, class: memory, used: 96, assigned: 128, unit: MiB}
  - {component: control_plane, class: memory, used: 256, assigned: 1024, unit: MiB}
  - {component: sidecar, class: network, used: 40, assigned: 1000, unit: Mbps}
`)
	out := filepath.Join(t.TempDir(), "scored.json")
	code, stdout, stderr := smp(t, "meshmark", res, "--measurements", m, "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// By hand: cpu (0.64·1 + 0.70·1.2 + 0.90·0.5)/3, memory (0.25+0.75)/2,
	// network 0.96, latency 25/31.25.
	want := 100 * ((0.64+0.84+0.45)/3 + (0.25+0.75)/2 + 0.96 + 0.8) / 4
	if !strings.Contains(stdout, fmt.Sprintf("%.2f", want)) {
		t.Errorf("stdout lacks %.2f:\n%s", want, stdout)
	}
	doc, err := spec.LoadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := doc.Result.GetMeshmark().GetScore(); fmt.Sprintf("%.6f", got) != fmt.Sprintf("%.6f", want) {
		t.Errorf("stored score %v, want %v", got, want)
	}
	if len(doc.Result.GetResources()) != 6 {
		t.Errorf("stored %d resource figures, want 6", len(doc.Result.GetResources()))
	}
	bad := writeFile(t, "bad.yaml", "resources:\n  - {component: s, class: cpu, used: 1, assigned: 2, weight: 0.9}\n")
	if code, _, stderr := smp(t, "meshmark", res, "--measurements", bad); code != 2 || !strings.Contains(stderr, "resources[0].weight") {
		t.Errorf("bad weight: exit %d, stderr %s", code, stderr)
	}
}

// smp compare of a variant whose every request failed (latencies 0) against
// a healthy one never says "better": its latency is missing, "no successful
// requests", and --max-regression fails it (exit 1).
func TestCompareTotalFailure(t *testing.T) {
	base := resultWithRuns(t, "healthy", 1.0, 1.1, 0.9, 1.05, 0.95, 1.02)
	broken := &spec.PerformanceTestResult{Name: "broken"}
	for range 6 {
		broken.Runs = append(broken.Runs, &spec.PerformanceTestResult{
			LatenciesMs: &spec.PerformanceTestResult_Latency{},
			ActualQps:   1000,
			Requests:    &spec.PerformanceTestResult_Requests{Total: 1000, Errors: 1000},
			Errors:      map[string]int64{"connect": 1000},
		})
	}
	bad := filepath.Join(t.TempDir(), "broken.yaml")
	if err := spec.WriteFile(bad, broken); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"text", "markdown", "json"} {
		code, stdout, stderr := smp(t, "compare", "--format", format, base, bad)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", format, code, stdout, stderr)
		}
		if strings.Contains(stdout, "better") || !strings.Contains(stdout, "no successful requests") || !strings.Contains(stdout, "worse") {
			t.Errorf("%s output:\n%s", format, stdout)
		}
	}
	code, stdout, stderr := smp(t, "compare", base, bad, "--max-regression", "p99=10%")
	if code != 1 || !strings.Contains(stderr, "p99") || !strings.Contains(stderr, "no successful requests") {
		t.Errorf("--max-regression: exit %d\n%s%s", code, stdout, stderr)
	}
}
