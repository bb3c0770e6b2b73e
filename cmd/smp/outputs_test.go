package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// countingTarget is an HTTP target that counts the requests it gets.
func countingTarget(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { n.Add(1) }))
	t.Cleanup(srv.Close)
	return srv.URL + "/", &n
}

// Output paths that could not be written are refused before any load is
// sent, with the flag, the path and what is wrong.
func TestRunBadOutputs(t *testing.T) {
	url, requests := countingTarget(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "file.txt")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	same := filepath.Join(dir, "same.yaml")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no such directory", []string{"-o", filepath.Join(dir, "no", "r.yaml")},
			"-o " + filepath.Join(dir, "no", "r.yaml") + ": directory " + filepath.Join(dir, "no") + " does not exist"},
		{"same path twice", []string{"-o", same, "--hdr-log", same},
			"--hdr-log " + same + ": the same file as -o " + same},
		{"report not HTML", []string{"--report", filepath.Join(dir, "r.pdf")},
			"--report " + filepath.Join(dir, "r.pdf") + ": the report is HTML"},
		{"a directory", []string{"--report", dir},
			"--report " + dir + ": is a directory"},
		{"under a regular file", []string{"--hdr-log", filepath.Join(file, "x.hlog")},
			"--hdr-log " + filepath.Join(file, "x.hlog") + ": " + file + " is not a directory"},
		{"variant paths collide", []string{"--variant", "a=" + url, "--variant", "b=" + url,
			"-o", filepath.Join(dir, "r.yaml"), "--junit", filepath.Join(dir, "r-a.yaml"), "--slo", "p99<1s"},
			"--junit " + filepath.Join(dir, "r-a.yaml") + ": the same file as -o " + filepath.Join(dir, "r-a.yaml")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"run", "-q", "--qps", "100", "-d", "200ms"}, tc.args...)
			if !strings.Contains(strings.Join(tc.args, " "), "--variant") {
				args = append(args, url)
			}
			code, stdout, stderr := smp(t, args...)
			if code != exitBadInput || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want %d with %q\n%s%s", code, exitBadInput, tc.want, stdout, stderr)
			}
			if n := requests.Load(); n != 0 {
				t.Errorf("%d requests sent before the outputs were refused", n)
			}
		})
	}
}

// A result that could not be written is saved to a fallback file, whose
// path is printed; the exit code says an output was not written.
func TestRunOutputFallback(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /dev/full")
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	url, _ := countingTarget(t)
	report := filepath.Join(t.TempDir(), "r.html")
	code, stdout, stderr := smp(t, "run", url, "-q", "--qps", "100", "-c", "1", "-d", "500ms", "-o", "/dev/full", "--report", report)
	if code != exitOutputError {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitOutputError, stdout, stderr)
	}
	if !strings.Contains(stdout, "requests   50 total") {
		t.Errorf("summary not printed:\n%s", stdout)
	}
	checkFileStarts(t, report, "<!DOCTYPE html>") // the other outputs are still written
	m := regexp.MustCompile(`the result is saved to (\S+)`).FindStringSubmatch(stderr)
	if m == nil || filepath.Dir(m[1]) != tmp {
		t.Fatalf("no fallback path in %s:\n%s", tmp, stderr)
	}
	if !strings.Contains(stderr, "/dev/full") {
		t.Errorf("stderr does not say what failed:\n%s", stderr)
	}
	r := loadResultFile(t, m[1])
	if got := r.GetRequests().GetTotal(); got != 50 {
		t.Errorf("fallback result has %d requests, want 50", got)
	}
}
