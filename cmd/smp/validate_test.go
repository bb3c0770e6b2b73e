package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// failingURL returns the URL of a server that accepts connections but
// drops every request unanswered, so that every request fails.
func failingURL(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, _, err := w.(http.Hijacker).Hijack(); err == nil {
			c.Close()
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

// Fresh smp results, healthy and failed alike, pass smp's own validation
// (the checks on counts, latencies and histograms must not refuse them).
func TestFreshResultsValidate(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "good.yaml"), filepath.Join(dir, "bad.yaml")
	if code, out, errs := smp(t, "run", runTarget(t), "-q", "--qps", "100", "-c", "2", "-d", "300ms", "-o", good); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	smp(t, "run", failingURL(t), "-q", "--qps", "50", "-c", "1", "-d", "200ms", "-o", bad)
	if _, err := os.Stat(bad); err != nil {
		t.Fatalf("failed run wrote no result: %v", err)
	}
	if code, out, errs := smp(t, "validate", good, bad); code != 0 {
		t.Fatalf("validate exit %d\n%s%s", code, out, errs)
	}
}
