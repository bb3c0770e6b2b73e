//go:build unix

package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SIGHUP (a closed terminal or SSH session), like Ctrl-C and SIGTERM,
// stops the run and still writes the partial result.
func TestRunSIGHUPWritesPartialResult(t *testing.T) {
	url, requests := countingTarget(t)
	out := filepath.Join(t.TempDir(), "r.yaml")
	go func() {
		// The handler is in place once load is sent.
		for deadline := time.Now().Add(10 * time.Second); requests.Load() < 20 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		syscall.Kill(syscall.Getpid(), syscall.SIGHUP)
	}()
	code, stdout, stderr := smp(t, "run", url, "-q", "--qps", "100", "-c", "1", "-d", "10s", "-o", out)
	if code != exitPartial {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitPartial, stdout, stderr)
	}
	r := loadResultFile(t, out)
	if !r.GetPartial() || !strings.Contains(r.GetPartialReason(), "hangup") {
		t.Errorf("partial %v, reason %q", r.GetPartial(), r.GetPartialReason())
	}
	if n := r.GetRequests().GetTotal(); n == 0 || n >= 1000 {
		t.Errorf("%d requests in the partial result", n)
	}
	if !strings.Contains(stdout, "PARTIAL RESULT") {
		t.Errorf("summary:\n%s", stdout)
	}
}
