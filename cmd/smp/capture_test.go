package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smp-project/smp/internal/testsvc"
	"github.com/smp-project/smp/spec"
)

// TestMain lets the test binary be smp itself in a child process
// (SMP_TEST_MAIN=1), so that a test can measure a target in a process of
// its own, as a user would run it.
func TestMain(m *testing.M) {
	if os.Getenv("SMP_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// childTarget runs `smp target` in a child process on 127.0.0.1 and
// returns its address and PID.
func childTarget(t *testing.T) (string, int) {
	t.Helper()
	addr := testsvc.FreePort(t)
	cmd := exec.Command(os.Args[0], "target", "--http", addr)
	cmd.Env = append(os.Environ(), "SMP_TEST_MAIN=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	testsvc.WaitHTTP(t, "http://"+addr+"/_smp/stats", 15*time.Second)
	return addr, cmd.Process.Pid
}

func figure(t *testing.T, r *spec.PerformanceTestResult, source, class string) *spec.ResourceUsage {
	t.Helper()
	for _, f := range r.GetResources() {
		if f.GetSource() == source && f.GetClass() == class {
			return f
		}
	}
	t.Fatalf("no %s figure from %s in %v", class, source, r.GetResources())
	return nil
}

func captureOf(r *spec.PerformanceTestResult, name string) *spec.Capture {
	for _, c := range r.GetCaptures() {
		if c.GetName() == name {
			return c
		}
	}
	return nil
}

func loadResult(t *testing.T, path string) *spec.PerformanceTestResult {
	t.Helper()
	d, err := spec.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return d.Result
}

// TestRunPrometheusMatchesProc runs load against an smp target in a child
// process while Debian's Prometheus scrapes the target's /metrics each
// second. The target's CPU and memory from Prometheus (its client_golang
// process metrics, read from the same /proc files) must be within 10% of
// smp's own /proc sampling of that PID over the same window. A query with
// no data in the same run must be reported empty, not zero.
func TestRunPrometheusMatchesProc(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: starts Prometheus and runs 12 s of load")
	}
	addr, pid := childTarget(t)
	prom := testsvc.Prometheus(t, map[string]string{"smp-target": addr})
	// Wait for the first scrapes, so that the window has data from its start.
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := testsvc.PromQuery(context.Background(), prom, `process_cpu_seconds_total{job="smp-target"}`)
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus has not scraped the target: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // a few samples before the window

	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := smp(t, "run", "http://"+addr+"/", "--qps", "1500", "-c", "8", "-d", "12s", "-q",
		"--watch-pid", fmt.Sprintf("target=%d", pid),
		"--prometheus", prom, "--prometheus-set", "process", "--prometheus-var", "job=smp-target",
		"--prometheus-query", "nothing.cpu=sum(rate(no_such_metric_total[5s]))",
		"--no-cluster", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	r := loadResult(t, out)
	for _, class := range []string{"cpu", "memory"} {
		proc := figure(t, r, fmt.Sprintf("pid:%d", pid), class)
		var pr *spec.ResourceUsage
		for _, f := range r.GetResources() {
			if f.GetSource() == "prometheus" && f.GetComponent() == "smp-target" && f.GetClass() == class {
				pr = f
			}
		}
		if pr == nil || pr.GetError() != "" || proc.GetError() != "" {
			t.Fatalf("%s: prometheus %v, proc %v", class, pr, proc)
		}
		diff := math.Abs(pr.GetUsed()-proc.GetUsed()) / proc.GetUsed()
		t.Logf("%s: prometheus %.1f, /proc %.1f %s (%.1f%% apart; %d and %d samples)", class, pr.GetUsed(), proc.GetUsed(), proc.GetUnit(), 100*diff, len(pr.GetSeries()), len(proc.GetSeries()))
		if diff > 0.10 {
			t.Errorf("%s: prometheus %.1f vs /proc %.1f %s: %.1f%% apart, want within 10%%", class, pr.GetUsed(), proc.GetUsed(), proc.GetUnit(), 100*diff)
		}
		if class == "cpu" && proc.GetUsed() < 20 {
			t.Errorf("target cpu %.1f mcores under 1500 req/s: too little to compare", proc.GetUsed())
		}
	}
	empty := figure(t, r, "prometheus", "cpu")
	for _, f := range r.GetResources() {
		if f.GetComponent() == "nothing" {
			empty = f
		}
	}
	if empty.GetComponent() != "nothing" || !strings.Contains(empty.GetError(), "no data") || empty.GetUsed() != 0 || len(empty.GetSeries()) != 0 {
		t.Errorf("query with no data: %v, want an error and no values", empty)
	}
	if c := captureOf(r, "prometheus "+prom); c == nil || c.GetStatus() != "partial" || !strings.Contains(c.GetReason(), "nothing.cpu") {
		t.Errorf("prometheus capture %v, want partial naming nothing.cpu", c)
	}
}

// TestRunWatchNginx samples Debian's nginx (master and workers) while smp
// sends it load at two rates: its CPU must rise with the rate, and the
// result must be enough for smp meshmark.
func TestRunWatchNginx(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode: starts nginx and runs load")
	}
	url, pid := testsvc.Nginx(t, 1)
	dir := t.TempDir()
	used := map[string]float64{}
	for _, rate := range []string{"100", "3000"} {
		out := filepath.Join(dir, rate+".yaml")
		code, stdout, stderr := smp(t, "run", url, "--qps", rate, "-c", "8", "-d", "4s", "-q", "--no-cluster",
			"--watch-pid", fmt.Sprintf("gateway=%d", pid), "-o", out)
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		r := loadResult(t, out)
		cpu := figure(t, r, fmt.Sprintf("pid:%d", pid), "cpu")
		if cpu.GetError() != "" || len(cpu.GetSeries()) < 3 {
			t.Fatalf("nginx cpu at %s/s: %v", rate, cpu)
		}
		used[rate] = cpu.GetUsed()
		t.Logf("nginx at %s/s: %.1f mcores (series %.0f)", rate, cpu.GetUsed(), cpu.GetSeries())

		if rate == "3000" {
			code, stdout, stderr = smp(t, "meshmark", out)
			if code != 0 || !strings.Contains(stdout, "gateway") || !strings.Contains(stdout, "cpu") {
				t.Fatalf("meshmark: exit %d\n%s%s", code, stdout, stderr)
			}
			if strings.Contains(stdout, "generator") {
				t.Errorf("meshmark scored the generator's own figures:\n%s", stdout)
			}
		}
	}
	if used["3000"] < 3*used["100"] || used["3000"] < 20 {
		t.Errorf("nginx cpu %.1f mcores at 3000/s vs %.1f at 100/s: want it to rise with load (3x at least)", used["3000"], used["100"])
	}
}

// TestRunUnreachableCaptures: a Prometheus and a cluster that do not answer
// leave the run alone; the result says which capture failed and why.
func TestRunUnreachableCaptures(t *testing.T) {
	url := runTarget(t)
	dead := testsvc.FreePort(t)
	kubeconfig := writeFile(t, "kubeconfig", fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://%s"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, dead))
	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := smp(t, "run", url, "--qps", "200", "-d", "1s", "-q", "-o", out,
		"--prometheus", "http://"+dead, "--prometheus-var", "job=x", "--kubeconfig", kubeconfig)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	r := loadResult(t, out)
	if r.GetRequests().GetOk() == 0 {
		t.Fatalf("the run did not proceed: %v", r.GetRequests())
	}
	for _, name := range []string{"prometheus http://" + dead, "cluster", "mesh"} {
		c := captureOf(r, name)
		if c == nil || c.GetStatus() != "failed" || c.GetReason() == "" {
			t.Errorf("capture %s: %v, want failed with a reason", name, c)
		}
	}
	if c := captureOf(r, "cluster"); c != nil && !strings.Contains(c.GetReason(), "unreachable") {
		t.Errorf("cluster capture reason %q does not say unreachable", c.GetReason())
	}
	if f := figure(t, r, "prometheus", "cpu"); !strings.Contains(f.GetError(), "unreachable") || len(f.GetSeries()) != 0 {
		t.Errorf("prometheus figure %v", f)
	}
	if f := figure(t, r, "self", "cpu"); f.GetError() != "" || len(f.GetSeries()) == 0 {
		t.Errorf("the generator's own figure is missing: %v", f)
	}
	if r.GetEnvironment().GetHost().GetCores() < 1 {
		t.Errorf("no host description: %v", r.GetEnvironment())
	}
}

// TestRunCaptureFlagsBadInput: capture flags are checked before anything
// runs, exit 2, naming the flag.
func TestRunCaptureFlagsBadInput(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--watch-pid", "abc"}, "--watch-pid"},
		{[]string{"--watch-cmd", "/usr/sbin/nginx"}, "--watch-cmd"},
		{[]string{"--prometheus-set", "istio"}, "need --prometheus"},
		{[]string{"--prometheus", "127.0.0.1:9090"}, "want http://host:port"},
		{[]string{"--prometheus", "http://127.0.0.1:9", "--prometheus-set", "nope"}, "--prometheus-set"},
		{[]string{"--prometheus", "http://127.0.0.1:9", "--prometheus-query", "sidecar=x"}, "COMPONENT.CLASS=PROMQL"},
		{[]string{"--prometheus", "http://127.0.0.1:9", "--prometheus-set", "process"}, "--prometheus-var"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := smp(t, append([]string{"run", "http://127.0.0.1:9/", "-d", "1s", "--no-cluster"}, tt.args...)...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", code, stderr, tt.want)
			}
		})
	}
}

// TestRunSummaryResources: the text summary lists every resource figure of
// the result with the same mean and largest sample, and a capture that
// failed with its reason. A 1 s run is the hard case: the engine's drain
// and summing up after the last full step once made the generator's mean
// larger than its largest sample.
func TestRunSummaryResources(t *testing.T) {
	url := runTarget(t)
	dead := testsvc.FreePort(t)
	out := filepath.Join(t.TempDir(), "r.json")
	code, stdout, stderr := smp(t, "run", url, "--qps", "200", "-d", "1s", "-q", "--no-cluster", "-o", out,
		"--watch-pid", fmt.Sprintf("tests=%d", os.Getpid()), "--prometheus", "http://"+dead, "--prometheus-var", "job=x")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	r := loadResult(t, out)
	lineOf := func(component, class string) []string {
		for _, l := range strings.Split(stdout, "\n") {
			if f := strings.Fields(l); len(f) > 2 && f[0] == component && f[1] == class {
				return f
			}
		}
		return nil
	}
	near := func(text string, want float64) bool {
		got, err := strconv.ParseFloat(text, 64)
		return err == nil && math.Abs(got-want) <= 0.005*math.Abs(want)+0.005
	}
	checked := 0
	for _, f := range r.GetResources() {
		if f.GetError() != "" {
			if !strings.Contains(stdout, fmt.Sprintf("%s %s (%s) not captured: %s", f.GetComponent(), f.GetClass(), f.GetSource(), f.GetError())) {
				t.Errorf("the summary does not say why %s %s is missing:\n%s", f.GetComponent(), f.GetClass(), stdout)
			}
			continue
		}
		if f.GetMax() < f.GetUsed() {
			t.Errorf("%s %s: mean %.2f over its largest sample %.2f (series %v)", f.GetComponent(), f.GetClass(), f.GetUsed(), f.GetMax(), f.GetSeries())
		}
		fields := lineOf(f.GetComponent(), f.GetClass())
		// component class MEAN unit max MAX of ASSIGNED source
		if len(fields) != 9 || !near(fields[2], f.GetUsed()) || fields[3] != f.GetUnit() || !near(fields[5], f.GetMax()) || fields[8] != f.GetSource() {
			t.Errorf("%s %s: summary line %q, result used %.3f max %.3f %s from %s", f.GetComponent(), f.GetClass(), fields, f.GetUsed(), f.GetMax(), f.GetUnit(), f.GetSource())
		}
		checked++
	}
	if checked != 4 {
		t.Errorf("%d figures checked, want 4 (generator and tests, cpu and memory):\n%s", checked, stdout)
	}
	if !strings.Contains(stdout, "captures   prometheus http://"+dead+" failed: ") || strings.Contains(stdout, "skipped") {
		t.Errorf("the summary's captures:\n%s", stdout)
	}
}
