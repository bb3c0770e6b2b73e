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
	// +5% at the median, but one run in two is far off: not significant,
	// and the interval's upper end is well past a 10% budget.
	noisy := resultWithRuns(t, "noisy", 1.05, 1.6, 0.7, 1.04, 1.5, 0.8)
	one, two := resultWithRuns(t, "one", 1.0), resultWithRuns(t, "two", 1.5)
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
		{"no change within the budget", []string{"compare", base, same, "--max-regression", "p50=5%"}, 0, []string{"~"}, nil},
		// The interval of same vs base reaches +2.02%: the runs cannot show
		// that the change is under 1%.
		{"no change, interval past a tight budget", []string{"compare", base, same, "--max-regression", "p50=1%"}, 1, []string{"~"},
			[]string{"p50 regressed", "upper end +2.02% is above +1.00%"}},
		{"noisy regression fails", []string{"compare", base, noisy, "--max-regression", "p50=10%"}, 1, []string{"~"},
			[]string{"p50 regressed: noisy vs baseline", "its interval's upper end"}},
		{"noisy regression within a wide budget", []string{"compare", base, noisy, "--max-regression", "p50=80%"}, 0, nil, nil},
		{"too few runs for an interval", []string{"compare", one, two, "--max-regression", "p50=50%"}, 1, nil,
			[]string{"no change interval with 1 and 1 runs (needs 4 a side)"}},
		{"same file twice", []string{"compare", base, base}, 2, nil, []string{"are the same file"}},
		{"bad correction", []string{"compare", "--correction", "fdr", base, mesh}, 2, nil, []string{"--correction", "allowed are holm, bonferroni, none"}},
		{"bad detect", []string{"compare", "--detect", "-5%", base, mesh}, 2, nil, []string{"--detect"}},
		{"detect plans runs", []string{"compare", "--detect", "1%", base, same}, 0,
			[]string{"runs a side to detect the change asked for with 80% power at this spread (same vs baseline): p50 +1.00%: "}, nil},
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

// writeResult writes r to a temporary file named name.yaml.
func writeResult(t *testing.T, name string, r *spec.PerformanceTestResult) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name+".yaml")
	if err := spec.WriteFile(p, r); err != nil {
		t.Fatal(err)
	}
	return p
}

// runsOf is a result of runs with the given p50 values (as resultWithRuns)
// and a setup: requested rate and connections over HTTP for 10s.
func runsOf(name string, rps int64, conns int32, p50s ...float64) *spec.PerformanceTestResult {
	r := &spec.PerformanceTestResult{Name: name, RequestedQps: float64(rps),
		Config: &spec.PerformanceTestConfig{Duration: "10s", Clients: []*spec.PerformanceTestConfig_Client{
			{EndpointUrls: []string{"http://127.0.0.1:1/"}, Rps: rps, Connections: conns}}}}
	for _, v := range p50s {
		r.Runs = append(r.Runs, &spec.PerformanceTestResult{
			LatenciesMs: &spec.PerformanceTestResult_Latency{P50: v, P90: 2 * v, P99: 3 * v, Max: 10 * v},
			ActualQps:   float64(rps),
			Requests:    &spec.PerformanceTestResult_Requests{Total: 1000, Ok: 1000},
		})
	}
	return r
}

// TestCompareChecks: the comparability warnings and --strict, partial runs
// left out and --include-partial, and the family-wise correction, through
// the command.
func TestCompareChecks(t *testing.T) {
	p50s := []float64{1.00, 1.01, 0.99, 1.02, 0.98, 1.00}
	base := writeResult(t, "a", runsOf("a", 300, 16, p50s...))
	rate := writeResult(t, "b", runsOf("b", 200, 16, p50s...))
	conns := writeResult(t, "c", runsOf("c", 300, 64, p50s...))
	cut := runsOf("d", 300, 16, append(p50s, 0.2)...)
	cut.Runs[6].Partial, cut.Runs[6].PartialReason = true, "interrupted"
	partial := writeResult(t, "d", cut)
	// Latency higher in 5 runs of 6 (U = 32 of 36; with the base's tie, the
	// normal approximation gives p = 0.030): significant on its own, not
	// after Holm over the 4 latency metrics (qps and errors are all tied:
	// no test, not in the family).
	shifted := writeResult(t, "e", runsOf("e", 300, 16, 1.03, 1.04, 1.025, 1.05, 0.995, 1.035))
	tests := []struct {
		name             string
		args             []string
		code             int
		wantOut, wantErr []string
		notOut           []string
	}{
		{"rate warning", []string{base, rate}, 0, []string{"warning: b vs a: requested rate differs: a 300.0/s, b 200.0/s"}, nil, nil},
		{"connections warning", []string{base, conns}, 0, []string{"warning: c vs a: connections differs: a 16, c 64"}, nil, nil},
		{"strict refuses", []string{"--strict", base, rate}, 2, nil, []string{"--strict: the results are not alike", "requested rate differs"}, nil},
		{"strict passes alike results", []string{"--strict", base, partial}, 0, nil, nil, []string{"warning:"}},
		{"json: warnings on stderr and in the document", []string{"--format", "json", base, conns}, 0,
			[]string{`"warnings": [`, "connections differs"}, []string{"smp: warning: c vs a: connections differs"}, nil},
		{"partial run left out", []string{base, partial}, 0, []string{"d: 1 partial run left out (--include-partial keeps them)", "n=6+6"}, nil, nil},
		{"partial run kept", []string{"--include-partial", base, partial}, 0, []string{"n=6+7"}, nil, []string{"left out"}},
		{"holm: not significant after correction", []string{base, shifted}, 0,
			[]string{"p=0.030→0.121", "e vs a (6 vs 6 runs): no significant difference (Mann–Whitney U, α=0.05 family-wise, Holm over 4 metrics)"}, nil, nil},
		{"no correction: significant", []string{"--correction", "none", base, shifted}, 0,
			[]string{"e vs a (6 vs 6 runs): worse p50 +3.25%"}, nil, []string{"→"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := smp(t, append([]string{"compare"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, stderr)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.notOut {
				if strings.Contains(out, w) {
					t.Errorf("stdout has %q:\n%s", w, out)
				}
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}
