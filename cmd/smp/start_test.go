package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smp-project/smp/target"
)

// Failures at the start explain themselves: smp run against the built-in
// target over TLS (its self-signed certificate), a port nothing listens
// on, and a plaintext target on an https:// URL exits 3 before the
// schedule, saying what happened and what to do.
func TestRunStartFailures(t *testing.T) {
	srv, err := target.Start(context.Background(), target.Config{HTTP: "127.0.0.1:0", GRPC: "127.0.0.1:0", TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	plain := runTarget(t)
	a := srv.Addrs()
	refused := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}()
	untrusted := []string{"is not trusted (x509: certificate signed by unknown authority)", "pass --cacert FILE with the CA that signed it", "or -k to skip verification (not for production measurements)"}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"https, untrusted", []string{"https://" + a.HTTP + "/"}, untrusted},
		{"http2, untrusted", []string{"https://" + a.HTTP + "/", "--protocol", "http2"}, untrusted},
		{"grpcs, untrusted", []string{"grpcs://" + a.GRPC}, untrusted},
		{"refused", []string{"http://" + refused + "/"}, []string{"connection refused at " + refused + ": is the target running and listening on that address? check the URL"}},
		{"https to a plaintext target", []string{strings.Replace(plain, "http://", "https://", 1)}, []string{"does not speak TLS", "use " + plain}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := smp(t, append([]string{"run", "-q", "--qps", "100", "-d", "300ms"}, tt.args...)...)
			if code != exitCannotRun {
				t.Fatalf("exit %d, want %d\n%s%s", code, exitCannotRun, stdout, stderr)
			}
			t.Log(stderr)
			if stdout != "" {
				t.Errorf("a test that could not start printed a result:\n%s", stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}

	// Trusted by --cacert or by -k, the same target runs.
	ca := filepath.Join(t.TempDir(), "target.pem")
	if err := os.WriteFile(ca, srv.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, trust := range [][]string{{"--cacert", ca}, {"-k"}} {
		code, stdout, stderr := smp(t, append([]string{"run", "-q", "--qps", "100", "-c", "2", "-d", "300ms", "https://" + a.HTTP + "/"}, trust...)...)
		if code != exitOK || !strings.Contains(stdout, "30 ok, 0 errors") {
			t.Errorf("%v: exit %d\n%s%s", trust, code, stdout, stderr)
		}
	}
}

// A test that needs more open files than the process may have is refused
// before it starts, with the numbers; the limit is a stand-in, the
// process's own is left alone.
func TestRunFileLimit(t *testing.T) {
	old := openFileLimit
	openFileLimit = func() uint64 { return 65536 }
	t.Cleanup(func() { openFileLimit = old })

	code, stdout, stderr := smp(t, "run", "http://127.0.0.1:1/", "-c", "100000")
	if code != exitBadInput {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitBadInput, stdout, stderr)
	}
	want := "-c 100000 needs about 100,064 open files; this process may open 65,536 (ulimit -n); lower -c or raise the limit"
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}

	code, _, stderr = smp(t, "run", "--variant", "a=http://127.0.0.1:1/", "--variant", "b=http://127.0.0.1:2/", "-c", "40000", "--protocol", "http", "--streams", "2")
	if code != exitBadInput || !strings.Contains(stderr, "variant a: -c 40000 × 2 streams needs about 80,064 open files") {
		t.Errorf("variants: exit %d\n%s", code, stderr)
	}

	openFileLimit = func() uint64 { return 50 }
	code, _, stderr = smp(t, "quickstart", "-q")
	if code != exitBadInput || !strings.Contains(stderr, "-c 8 needs about 72 open files; this process may open 50") {
		t.Errorf("quickstart: exit %d\n%s", code, stderr)
	}
}

// The exit codes are the same in smp --help and in the README: the same
// codes with the same words (the README quotes flags in backticks).
func TestExitCodesDocumented(t *testing.T) {
	code, stdout, _ := smp(t, "--help")
	if code != 0 || !strings.Contains(stdout, exitCodesHelp) {
		t.Errorf("smp --help lacks the exit codes:\n%s", stdout)
	}
	help := map[string]string{}
	last := ""
	for _, line := range strings.Split(exitCodesHelp, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 1 && len(f[0]) == 1 && f[0] >= "0" && f[0] <= "9" {
			last = f[0]
			help[last] = strings.Join(f[1:], " ")
		} else if last != "" {
			help[last] += " " + strings.Join(f, " ")
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]string{}
	for _, line := range strings.Split(string(readme), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 4 || len(strings.TrimSpace(cells[1])) != 1 {
			continue
		}
		c := strings.TrimSpace(cells[1])
		if c >= "0" && c <= "9" {
			doc[c] = strings.ReplaceAll(strings.TrimSpace(cells[2]), "`", "")
		}
	}
	if len(help) != 6 {
		t.Errorf("--help has %d exit codes, want 0 to 5: %q", len(help), help)
	}
	for c, h := range help {
		if doc[c] != h {
			t.Errorf("exit code %s:\n  --help: %s\n  README: %s", c, h, doc[c])
		}
	}
	if len(doc) != len(help) {
		t.Errorf("README exit codes %q, --help %q", doc, help)
	}
}
