package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smp-project/smp/spec"
)

const shapesDir = "../../interop/testdata/shapes"

// TestEveryResultFormatEverywhere: every kind of file smp import reads as
// a result is read by every command that reads results: report, compare,
// meshmark and import itself.
func TestEveryResultFormatEverywhere(t *testing.T) {
	base := resultFile(t, "base")
	files := []string{
		fortioFixture,
		"../../examples/legacy-result.yaml",
		base,
		filepath.Join(shapesDir, "meshery-result-one.json"),
		filepath.Join(shapesDir, "meshery-results-export.json"),
		filepath.Join(shapesDir, "meshery-results-page.json"),
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "imported.json")
			if code, stdout, stderr := smp(t, "import", f, "-o", out); code != 0 {
				t.Fatalf("import: exit %d\n%s%s", code, stdout, stderr)
			}
			if _, err := spec.LoadFile(out); err != nil {
				t.Errorf("import wrote %v", err)
			}
			if code, stdout, stderr := smp(t, "report", f, "--format", "csv-percentiles"); code != 0 || !strings.Contains(stdout, ",50,") {
				t.Errorf("report: exit %d\n%s%s", code, stdout, stderr)
			}
			if code, stdout, stderr := smp(t, "report", f, "--format", "fortio", "-o", "-"); code != 0 || !strings.Contains(stdout, `"DurationHistogram"`) {
				t.Errorf("report fortio: exit %d\n%s%s", code, stdout, stderr)
			}
			if f == base {
				// A result compared with itself is refused.
				if code, _, stderr := smp(t, "compare", base, f); code != exitBadInput || !strings.Contains(stderr, "are the same file") {
					t.Errorf("compare with itself: exit %d\n%s", code, stderr)
				}
			} else if code, stdout, stderr := smp(t, "compare", base, f); code != 0 || !strings.Contains(stdout, "p50") {
				t.Errorf("compare: exit %d\n%s%s", code, stdout, stderr)
			}
			// meshmark reads it; what it lacks is resource figures.
			code, _, stderr := smp(t, "meshmark", f, "--slo-p99", "10ms")
			if code != exitBadInput || strings.Contains(stderr, "not a result") || strings.Contains(stderr, "expected a mapping") {
				t.Errorf("meshmark: exit %d\n%s", code, stderr)
			}
		})
	}
}

// TestResultsListCommands: a Meshery results export gives one result where
// a command takes one (the first valid, or --index N) and every valid one
// where it takes several; its malformed element is named on stderr.
func TestResultsListCommands(t *testing.T) {
	export := filepath.Join(shapesDir, "meshery-results-export.json")
	const skipped = "[2]: skipped, malformed: " + shapesDir + "/meshery-results-export.json:236: [2].runner_results[0].DurationHistogram.Count"

	code, stdout, stderr := smp(t, "import", export, "--index", "1")
	if code != 0 || !strings.Contains(stdout, "name: linkerd-run-b") || !strings.Contains(stderr, skipped) {
		t.Errorf("import --index 1: exit %d\n%s%s", code, stdout, stderr)
	}
	code, _, stderr = smp(t, "import", export, "--index", "2")
	if code != exitBadInput || !strings.Contains(stderr, "meshery-results-export.json:236: [2].runner_results[0].DurationHistogram.Count") {
		t.Errorf("import --index 2: exit %d\n%s", code, stderr)
	}
	code, stdout, stderr = smp(t, "report", export, "--format", "csv-percentiles")
	if code != 0 || !strings.Contains(stdout, "istio-run-a,50,") || !strings.Contains(stdout, "linkerd-run-b,50,") {
		t.Errorf("report of a list: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = smp(t, "compare", export)
	if code != 0 || !strings.Contains(stdout, "linkerd-run-b") {
		t.Errorf("compare within a list: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = smp(t, "validate", export)
	if code != exitBadInput || !strings.Contains(stdout, "invalid: 1 malformed element(s) skipped") || !strings.Contains(stderr, ":236: [2].runner_results") {
		t.Errorf("validate of a list with a malformed element: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestProfileListOneMalformed: --profile picks a valid profile from a list
// in which another is malformed.
func TestProfileListOneMalformed(t *testing.T) {
	profiles := filepath.Join(shapesDir, "meshery-profiles-one-bad.json")
	code, stdout, stderr := smp(t, "import", profiles, "--profile", "productpage-istio")
	if code != 0 || !strings.Contains(stdout, "name: productpage-istio") ||
		!strings.Contains(stderr, `profile [1] "broken-headers": skipped, malformed: `+profiles+`:21: [1].requestHeaders`) {
		t.Errorf("import --profile: exit %d\n%s%s", code, stdout, stderr)
	}
	code, _, stderr = smp(t, "import", profiles, "--profile", "broken-headers")
	if code != exitBadInput || !strings.Contains(stderr, profiles+`:21: [1].requestHeaders: "1"`) {
		t.Errorf("import of the malformed profile: exit %d\n%s", code, stderr)
	}
}

// TestRunOtherGenerator: a config naming nighthawk runs on smp, with a
// note on stderr and the label smp.note in the result.
func TestRunOtherGenerator(t *testing.T) {
	url := runTarget(t)
	data, err := os.ReadFile(filepath.Join(shapesDir, "config-nighthawk.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, "nighthawk.yaml", strings.ReplaceAll(strings.ReplaceAll(string(data), "http://127.0.0.1:9080/reviews/0", url), "duration: 5s", "duration: 500ms"))
	out := filepath.Join(t.TempDir(), "result.yaml")
	code, stdout, stderr := smp(t, "run", "-f", cfg, "-o", out, "-q")
	if code != 0 || !strings.Contains(stderr, "note: load_generator: the config names nighthawk; smp runs the test on its own load generator") {
		t.Fatalf("run: exit %d\n%s%s", code, stdout, stderr)
	}
	doc, err := spec.LoadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n := doc.Result.GetLabels()[spec.NoteLabel]; !strings.Contains(n, "nighthawk") {
		t.Errorf("label %s = %q", spec.NoteLabel, n)
	}
}
