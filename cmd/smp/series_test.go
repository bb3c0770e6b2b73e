package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/internal/race"
	"github.com/smp-project/smp/smprun"
	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/target"
)

// delayTarget starts the built-in target answering HTTP after a fixed
// delay.
func delayTarget(t *testing.T, d time.Duration) string {
	t.Helper()
	srv, err := target.Start(context.Background(), target.Config{HTTP: "127.0.0.1:0", Defaults: target.Behavior{Delay: target.FixedDelay(d)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return "http://" + srv.Addrs().HTTP + "/"
}

// compareJSON is the part of smp compare --format json the tests read.
type compareJSON struct {
	Variants []struct {
		Name    string `json:"name"`
		Runs    int    `json:"runs"`
		Metrics []struct {
			Metric      string   `json:"metric"`
			Change      *float64 `json:"change"`
			Significant bool     `json:"significant"`
		} `json:"metrics"`
	} `json:"variants"`
}

// p50 finds a variant's p50 comparison.
func (c compareJSON) p50(t *testing.T, variant string) (change float64, significant bool) {
	t.Helper()
	for _, v := range c.Variants {
		if v.Name != variant {
			continue
		}
		for _, m := range v.Metrics {
			if m.Metric == "p50" && m.Change != nil {
				return *m.Change, m.Significant
			}
		}
	}
	t.Fatalf("no p50 change for %s in %+v", variant, c)
	return 0, false
}

// Issue 6's end-to-end check: a target 20% slower than another is told
// apart by 6 interleaved runs each, and smp compare reads what smp run
// wrote; the same target compared with itself shows no significant change.
// The pair is 1.0 vs 1.2 ms of target delay, as the issue asks; the
// loopback round trip and the generator's time add to both, so the change
// expected is 0.2 ms over the base's p50, ±5 points. (It needs the target's
// precise timerfd sleeps: Go timers wake up to 1 ms late here.)
func TestAccuracyCompareDelays(t *testing.T) {
	if race.Enabled {
		t.Skip("timing accuracy is not measurable under the race detector")
	}
	fast := delayTarget(t, 1000*time.Microsecond)
	slow := delayTarget(t, 1200*time.Microsecond)
	out := filepath.Join(t.TempDir(), "out.yaml")
	code, stdout, stderr := smp(t, "run", "-q", "--qps", "500", "-c", "64", "-d", "1s", "--runs", "6",
		"--variant", "base="+fast, "--variant", "slow="+slow, "--variant", "same="+fast, "-o", out)
	if code != 0 {
		t.Fatalf("run: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"== base ==", "== slow ==", "6 runs, all requests merged", "across runs", "vs base", "slow vs base (6 vs 6 runs)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("run output lacks %q:\n%s", want, stdout)
		}
	}
	files := []string{smprun.VariantPath(out, "base"), smprun.VariantPath(out, "slow"), smprun.VariantPath(out, "same")}

	// The claim is about one metric named in advance, p50: a family of one,
	// so no correction for the seven (Holm would ask p < 0.05/6 of it,
	// which 6 runs a side on a loaded machine do not always give).
	code, js, stderr := smp(t, append([]string{"compare", "--format", "json", "--correction", "none"}, files[:2]...)...)
	if code != 0 {
		t.Fatalf("compare: exit %d\n%s", code, stderr)
	}
	var c compareJSON
	if err := json.Unmarshal([]byte(js), &c); err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	// The slow target adds 0.2 ms to whatever the base takes (its 1 ms,
	// the loopback round trip and the generator's own time, ~0.1–0.3 ms
	// on this VM depending on its load), so the expected change is
	// 0.2 ms over the base's p50: about +18% at 1.1 ms, +15% at 1.3 ms.
	base, err := spec.LoadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	want := 100 * 0.2 / base.Result.GetLatenciesMs().GetP50()
	change, significant := c.p50(t, "slow")
	if !significant || change < want-5 || change > want+5 {
		t.Errorf("slow vs base p50: change %+.1f%% significant %v, want a significant %+.1f%% (0.2 ms over the base's p50 %.3f ms) ± 5 points\n%s",
			change, significant, want, base.Result.GetLatenciesMs().GetP50(), stdout)
	}

	// The false-positive rate of the test is α by design (stats checks
	// 19 of 20 seeded repetitions); α = 0.01 keeps this test's own flake
	// rate at 1%.
	code, js, stderr = smp(t, "compare", "--format", "json", "--correction", "none", "--alpha", "0.01", files[0], files[2])
	if code != 0 {
		t.Fatalf("compare: exit %d\n%s", code, stderr)
	}
	c = compareJSON{}
	if err := json.Unmarshal([]byte(js), &c); err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	if change, significant := c.p50(t, "same"); significant {
		t.Errorf("same vs base p50: change %+.2f%% is significant, want ~\n%s", change, stdout)
	}
	t.Logf("\n%s", stdout[strings.Index(stdout, "metric "):])
}

// loadResultFile loads a result smp run wrote.
func loadResultFile(t *testing.T, path string) *spec.PerformanceTestResult {
	t.Helper()
	doc, err := spec.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Result == nil {
		t.Fatalf("%s is a %s", path, doc.Kind)
	}
	return doc.Result
}

// --runs: one result holding every run, their summary, and the merged
// figures; and every output file.
func TestRunRepeated(t *testing.T) {
	url := runTarget(t)
	dir := t.TempDir()
	out, html, hlog := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.html"), filepath.Join(dir, "r.hlog")
	code, stdout, stderr := smp(t, "run", url, "-q", "--qps", "200", "-c", "2", "-d", "500ms", "--runs", "3", "--pause", "50ms",
		"-o", out, "--report", html, "--hdr-log", hlog)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"3 runs, all requests merged", "requests   300 total", "run  requests", "across runs", "none: 3 runs are too few for 95%"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	r := loadResultFile(t, out)
	if len(r.Runs) != 3 || r.GetRequests().GetTotal() != 300 || r.GetDurationS() < 1.5 || r.GetActualQps() < 190 || r.GetActualQps() > 201 {
		t.Fatalf("runs %d, requests %v, duration %v s, qps %v", len(r.Runs), r.GetRequests(), r.GetDurationS(), r.GetActualQps())
	}
	h, err := hist.Decode(r.GetHistogram().GetData())
	if err != nil || h.Count() != 300 {
		t.Errorf("merged histogram: %v, count %d", err, h.Count())
	}
	for i, run := range r.Runs {
		if run.GetRequests().GetTotal() != 100 || run.GetConfig() != nil || run.GetHistogram().GetData() == "" {
			t.Errorf("run %d: requests %v, config %v", i+1, run.GetRequests(), run.GetConfig())
		}
		if i > 0 && !run.GetStartTime().AsTime().After(r.Runs[i-1].GetEndTime().AsTime()) {
			t.Errorf("run %d starts before run %d ends", i+1, i)
		}
	}
	for i := 1; i < len(r.Intervals); i++ {
		if r.Intervals[i].OffsetS <= r.Intervals[i-1].OffsetS {
			t.Errorf("interval offsets %v then %v", r.Intervals[i-1].OffsetS, r.Intervals[i].OffsetS)
		}
	}
	metrics := map[string]bool{}
	for _, s := range r.Summary {
		metrics[s.Metric] = true
		if s.Runs != 3 || s.HasInterval {
			t.Errorf("summary %v: want 3 runs and no interval", s)
		}
	}
	if !metrics["p50"] || !metrics["p99"] || !metrics["qps"] || !metrics["errors"] {
		t.Errorf("summary metrics %v", metrics)
	}
	checkFileStarts(t, html, "<!DOCTYPE html>")
	checkFileStarts(t, hlog, "#[Histogram log format version 1.3]")
}

func checkFileStarts(t *testing.T, path, prefix string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), prefix) {
		t.Errorf("%s starts %.60q, want %q", path, b, prefix)
	}
}

// With --order alternate variants run A B A B, and each writes its own
// result.
func TestRunVariantsInterleaved(t *testing.T) {
	url := runTarget(t)
	out := filepath.Join(t.TempDir(), "out.yaml")
	code, stdout, stderr := smp(t, "run", "-q", "--qps", "100", "-c", "1", "-d", "200ms", "--runs", "2", "--order", "alternate",
		"--variant", "a="+url+"?x=a", "--variant", "b="+url+"?x=b", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	a, b := loadResultFile(t, smprun.VariantPath(out, "a")), loadResultFile(t, smprun.VariantPath(out, "b"))
	if a.GetName() != "a" || b.GetName() != "b" || a.GetLabels()["variant"] != "a" || len(a.Runs) != 2 || len(b.Runs) != 2 {
		t.Fatalf("results %q (%d runs), %q (%d runs)", a.GetName(), len(a.Runs), b.GetName(), len(b.Runs))
	}
	order := []*spec.PerformanceTestResult{a.Runs[0], b.Runs[0], a.Runs[1], b.Runs[1]}
	for i := 1; i < len(order); i++ {
		if !order[i].GetStartTime().AsTime().After(order[i-1].GetStartTime().AsTime()) {
			t.Errorf("run %d of A B A B starts before run %d", i+1, i)
		}
	}
	if !strings.Contains(stdout, "b vs a (2 vs 2 runs): no conclusion") {
		t.Errorf("no comparison with its caveat:\n%s", stdout)
	}
}

// Several -f configs are variants named by their name field, or the file.
func TestRunVariantFiles(t *testing.T) {
	url := runTarget(t)
	named := writeFile(t, "first.yaml", "name: baseline\nduration: 200ms\nclients:\n- connections: 1\n  rps: 100\n  endpoint_urls: ["+url+"]\n")
	unnamed := writeFile(t, "mesh.yaml", "duration: 200ms\nclients:\n- connections: 1\n  rps: 100\n  endpoint_urls: ["+url+"]\n")
	out := filepath.Join(t.TempDir(), "out.json")
	code, stdout, stderr := smp(t, "run", "-q", "-f", named, "-f", unnamed, "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, name := range []string{"baseline", "mesh"} {
		if r := loadResultFile(t, smprun.VariantPath(out, name)); r.GetName() != name || r.GetRequests().GetTotal() != 20 {
			t.Errorf("%s: name %q, requests %v", name, r.GetName(), r.GetRequests())
		}
	}
	if !strings.Contains(stdout, "== baseline ==") || !strings.Contains(stdout, "mesh vs baseline") {
		t.Errorf("output:\n%s", stdout)
	}
}

func TestRunSLO(t *testing.T) {
	url := runTarget(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
		junit  []string
	}{
		{"every objective met", []string{"--slo", "p99<1s", "--slo", "errors<0.1%", "--slo", "qps>=190"}, 0,
			[]string{"SLO p99<1s ok: p99 = ", "SLO errors<0.1% ok: errors = 0 %", "SLO qps>=190 ok: qps = "}, nil,
			[]string{`tests="3" failures="0"`, `name="SLO p99&lt;1s"`}},
		{"one failed", []string{"--slo", "p99<1s", "--slo", "p50<1us"}, 1,
			[]string{"SLO p50<1us FAILED: p50 = "}, []string{"smp: SLO p50<1us FAILED: p50 = "},
			[]string{`tests="2" failures="1"`, `<failure message="p50 = `}},
		{"errors over budget", []string{"--slo", "errors<=0%", "-H", "X-Smp-Status: 503"}, 1,
			nil, []string{"SLO errors<=0% FAILED: errors = 100.0 %"}, nil},
		{"checks go to stderr with json", []string{"--slo", "p99<1s", "--format", "json"}, 0,
			nil, []string{"SLO p99<1s ok"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			junit := filepath.Join(t.TempDir(), "slo.xml")
			args := append([]string{"run", url, "-q", "--qps", "200", "-c", "2", "-d", "300ms", "--junit", junit}, tt.args...)
			code, stdout, stderr := smp(t, args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, stdout, stderr)
			}
			for _, w := range tt.stdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			b, err := os.ReadFile(junit)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.junit {
				if !strings.Contains(string(b), w) {
					t.Errorf("JUnit lacks %q:\n%s", w, b)
				}
			}
		})
	}
}

func TestRunFortioFormat(t *testing.T) {
	url := runTarget(t)
	code, stdout, stderr := smp(t, "run", url, "-q", "--qps", "200", "-c", "2", "-d", "500ms", "--format", "fortio")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var f struct {
		ActualQPS         float64
		DurationHistogram struct{ Count int64 }
		RetCodes          map[string]int64
	}
	if err := json.Unmarshal([]byte(stdout), &f); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if f.DurationHistogram.Count != 100 || f.RetCodes["200"] != 100 || f.ActualQPS < 190 {
		t.Errorf("fortio result %+v", f)
	}
}

// Ctrl-C in the middle of a series still writes every output, with the
// result marked partial.
func TestRunInterruptedWritesEverything(t *testing.T) {
	url := runTarget(t)
	dir := t.TempDir()
	out, html, hlog, junit := filepath.Join(dir, "r.yaml"), filepath.Join(dir, "r.html"), filepath.Join(dir, "r.hlog"), filepath.Join(dir, "j.xml")
	root := newRootCmd()
	var stdout, stderr bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs([]string{"run", url, "-q", "--qps", "200", "-c", "2", "-d", "1s", "--runs", "3",
		"-o", out, "--report", html, "--hdr-log", hlog, "--junit", junit, "--slo", "p99<1s"})
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	err := root.ExecuteContext(ctx)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitPartial || !strings.Contains(err.Error(), "partial") {
		t.Fatalf("err = %v, want a partial result (exit %d)\n%s%s", err, exitPartial, stdout.String(), stderr.String())
	}
	r := loadResultFile(t, out)
	if !r.GetPartial() || len(r.Runs) != 2 || r.Runs[0].GetPartial() || !r.Runs[1].GetPartial() {
		t.Errorf("partial %v (%q), %d runs", r.GetPartial(), r.GetPartialReason(), len(r.Runs))
	}
	if !strings.Contains(stdout.String(), "PARTIAL RESULT") || !strings.Contains(stdout.String(), "2 (partial)") {
		t.Errorf("output:\n%s", stdout.String())
	}
	checkFileStarts(t, html, "<!DOCTYPE html>")
	checkFileStarts(t, hlog, "#[Histogram log format version 1.3]")
	checkFileStarts(t, junit, "<?xml")
}

// TestRunSeededOrder: smp run --seed N runs the variants in the same
// random balanced order every time, which each result records (run_order)
// and the runs' start times follow; an unknown --order is bad input.
func TestRunSeededOrder(t *testing.T) {
	url := runTarget(t)
	var sequences []string
	for attempt := range 2 {
		out := filepath.Join(t.TempDir(), "out.yaml")
		code, stdout, stderr := smp(t, "run", "-q", "--qps", "100", "-c", "1", "-d", "100ms", "--runs", "4", "--seed", "42",
			"--variant", "a="+url+"?x=a", "--variant", "b="+url+"?x=b", "-o", out)
		if code != 0 {
			t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
		}
		a, b := loadResultFile(t, smprun.VariantPath(out, "a")), loadResultFile(t, smprun.VariantPath(out, "b"))
		ro := a.GetRunOrder()
		if ro.GetOrder() != "random" || ro.GetSeed() != 42 || len(ro.GetSequence()) != 8 || strings.Join(b.GetRunOrder().GetSequence(), " ") != strings.Join(ro.GetSequence(), " ") {
			t.Fatalf("attempt %d: run orders %v, %v", attempt, ro, b.GetRunOrder())
		}
		if !strings.Contains(stdout, "order: random (balanced), seed 42: ") {
			t.Errorf("stdout lacks the order:\n%s", stdout)
		}
		// The start times follow the recorded sequence.
		next := map[string]int{}
		var prev time.Time
		for i, name := range ro.GetSequence() {
			runs := map[string]*spec.PerformanceTestResult{"a": a, "b": b}[name].GetRuns()
			start := runs[next[name]].GetStartTime().AsTime()
			next[name]++
			if i > 0 && !start.After(prev) {
				t.Errorf("attempt %d: run %d (%s) started before the run recorded before it", attempt, i+1, name)
			}
			prev = start
		}
		sequences = append(sequences, strings.Join(ro.GetSequence(), " "))
	}
	if sequences[0] != sequences[1] {
		t.Errorf("--seed 42 ran %q, then %q", sequences[0], sequences[1])
	}
	if code, _, stderr := smp(t, "run", "--order", "shuffle", url); code != exitBadInput || !strings.Contains(stderr, "allowed are random, alternate") {
		t.Errorf("--order shuffle: exit %d\n%s", code, stderr)
	}
}
