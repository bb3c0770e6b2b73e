package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/smp-project/smp/internal/testdocs"
	"github.com/smp-project/smp/spec"
)

// smp runs the command line in process and returns exit code, stdout, stderr.
func smp(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidateExamples(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*")
	if len(files) == 0 {
		t.Fatal("no examples in ../../examples")
	}
	shared, _ := filepath.Glob("../../../shared/examples/*")
	files = append(files, shared...)
	code, out, errs := smp(t, append([]string{"validate"}, files...)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"meshery, 1 client, 1 endpoint, duration 60s, mesh ISTIO", "config, 1 client, 1 endpoint, duration 30m", "legacy-result"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestExitCodes(t *testing.T) {
	bad := writeFile(t, "bad.yaml", "duration: 1s\nclients:\n- endpoint_urls: [http://a/]\n- connections: 0\n  endpoint_urls: [ftp://b/]\n")
	good := writeFile(t, "good.yaml", "duration: 1s\nclients:\n- endpoint_urls: [http://127.0.0.1:1/]\n")
	tests := []struct {
		name       string
		args       []string
		code       int
		wantStderr []string
	}{
		{"valid", []string{"validate", good}, 0, nil},
		{"invalid reports every error", []string{"validate", good, bad}, 2, []string{"clients[1].connections", "clients[1].endpoint_urls[0]", `unknown scheme "ftp"`, "1 of 2 files invalid"}},
		{"missing file", []string{"validate", filepath.Join(t.TempDir(), "nope.yaml")}, 2, []string{"nope.yaml: cannot read"}},
		{"no arguments", []string{"validate"}, 2, []string{"requires at least 1 arg"}},
		{"unknown command", []string{"frobnicate"}, 2, []string{"unknown command"}},
		{"unknown flag", []string{"validate", "--nope", good}, 2, []string{"unknown flag"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := smp(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// TestValidateBadDocuments runs every known-bad document through the
// command: exit code 2, and the field path and message on stderr.
func TestValidateBadDocuments(t *testing.T) {
	for _, tc := range testdocs.BadDocuments(spec.MaxFileSize) {
		t.Run(tc.Name, func(t *testing.T) {
			p := writeFile(t, "doc.yaml", tc.Doc)
			code, _, stderr := smp(t, "validate", p)
			if code != exitBadInput {
				t.Fatalf("exit code %d, want 2; stderr:\n%s", code, stderr)
			}
			want := p + ":"
			if tc.WantPath != "" {
				want = tc.WantPath + ": "
			}
			if !strings.Contains(stderr, want) || !strings.Contains(stderr, tc.WantMsg) {
				t.Errorf("stderr lacks %q and %q:\n%s", want, tc.WantMsg, stderr)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, stdout, stderr := smp(t, args...)
		if code != 0 || !strings.HasPrefix(stdout, "smp ") || !strings.Contains(stdout, runtime.Version()) {
			t.Errorf("smp %v: exit %d, %q %q", args, code, stdout, stderr)
		}
	}
}
