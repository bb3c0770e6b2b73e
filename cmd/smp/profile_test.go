package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// A Meshery user reruns a performance profile with smp run -f as it is.
func TestRunMesheryProfile(t *testing.T) {
	url := delayTarget(t, 0)
	prof := writeFile(t, "profile.yaml", fmt.Sprintf(`id: 8a1c5b1e-0000-4000-8000-000000000001
name: rerun-me
load_generators: [fortio]
endpoints: [%q]
service_mesh: istio
concurrent_request: 2
qps: 100
duration: 1s
request_headers: '{"X-Test": "1"}'
`, url))
	out := filepath.Join(t.TempDir(), "r.yaml")
	code, stdout, stderr := smp(t, "run", "-q", "-f", prof, "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	r := loadResultFile(t, out)
	if r.GetRequests().GetTotal() != 100 || r.GetMesh().GetType().String() != "ISTIO" {
		t.Errorf("requests %d, mesh %v; want 100 requests against ISTIO", r.GetRequests().GetTotal(), r.GetMesh())
	}

	bad := writeFile(t, "bad.yaml", "name: x\nendpoints: [\"http://127.0.0.1:1/\"]\nqps: -4\nduration: 1s\nload_generators: [fortio]\n")
	code, _, stderr = smp(t, "run", "-q", "-f", bad)
	if code != exitBadInput || !strings.Contains(stderr, "qps") {
		t.Errorf("bad profile: exit %d, stderr:\n%s", code, stderr)
	}
}
