package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/target"
)

// runTarget starts the built-in target on 127.0.0.1 for a test.
func runTarget(t *testing.T) string {
	t.Helper()
	srv, err := target.Start(context.Background(), target.Config{HTTP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return "http://" + srv.Addrs().HTTP + "/"
}

func TestRunWritesResult(t *testing.T) {
	url := runTarget(t)
	out := filepath.Join(t.TempDir(), "result.yaml")
	code, stdout, stderr := smp(t, "run", url, "--qps", "200", "-c", "2", "-d", "1s", "--warmup", "200ms",
		"-o", out, "--label", "team=perf", "-H", "X-Test: 1", "-q")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"200/s for 1s after 200ms warm-up, 2 workers", "requests   200 total, 200 ok, 0 errors", "corrected", "uncorrected", "p99.99", "generator  lateness"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	doc, err := spec.LoadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	r := doc.Result
	if r.GetRequests().GetTotal() != 200 || r.Labels["team"] != "perf" || r.GetHistogram().GetData() == "" || r.GetConfig().GetWarmup() != "200ms" {
		t.Errorf("result %v", r)
	}
}

// A run from URL flags alone records its protocol, chosen by the URL's
// scheme, in the result's config: the HTML report (of the run, and of its
// result file later) names it, and nothing says INVALID.
func TestRunFromURLRecordsProtocol(t *testing.T) {
	url := runTarget(t)
	dir := t.TempDir()
	out, page := filepath.Join(dir, "r.yaml"), filepath.Join(dir, "r.html")
	code, stdout, stderr := smp(t, "run", url, "-q", "--qps", "100", "-c", "1", "-d", "300ms", "-o", out, "--report", page)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	doc, err := spec.LoadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if c := doc.Result.GetConfig().GetClients(); len(c) != 1 || c[0].GetProtocol() != spec.PerformanceTestConfig_Client_PROTOCOL_HTTP || c[0].GetHttp2() {
		t.Errorf("result config clients %v, want protocol HTTP", c)
	}
	later := filepath.Join(dir, "later.html")
	if code, stdout, stderr := smp(t, "report", out, "-o", later); code != 0 {
		t.Fatalf("smp report: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, f := range []string{page, later} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if html := string(b); strings.Contains(html, "INVALID") || !strings.Contains(html, "HTTP, 1 connections, 100 req/s") {
			t.Errorf("%s: the client is not described as HTTP, or INVALID shows", f)
		}
	}
	if strings.Contains(stdout, "INVALID") {
		t.Errorf("the text summary says INVALID:\n%s", stdout)
	}
}

func TestRunFormats(t *testing.T) {
	url := runTarget(t)
	for _, format := range []string{"json", "yaml"} {
		code, stdout, stderr := smp(t, "run", url, "--qps", "0", "-c", "1", "-d", "300ms", "--format", format)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s", format, code, stderr)
		}
		doc, err := spec.Load([]byte(stdout), "stdout")
		if err != nil {
			t.Fatalf("%s: %v\n%s", format, err, stdout)
		}
		if doc.Result.GetRequests().GetTotal() == 0 || doc.Format != format {
			t.Errorf("%s: result %v", format, doc.Result)
		}
		if stderr != "" {
			t.Errorf("%s: stderr %q with no terminal", format, stderr)
		}
	}
}

func TestRunFromConfigFile(t *testing.T) {
	url := runTarget(t)
	cfg := writeFile(t, "test.yaml", "name: file test\nduration: 500ms\nclients:\n- connections: 1\n  rps: 100\n  endpoint_urls: ["+url+"]\n- connections: 1\n  rps: 50\n  endpoint_urls: ["+url+"]\n")
	code, stdout, stderr := smp(t, "run", "-f", cfg, "-d", "1s")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	// -d overrides the file's 500ms.
	if !strings.Contains(stdout, "requests   150 total") || !strings.Contains(stdout, "client-1") || !strings.Contains(stdout, "client-2") {
		t.Errorf("summary:\n%s", stdout)
	}
}

func TestRunExitCodes(t *testing.T) {
	dir := t.TempDir()
	result := writeFile(t, "result.yaml", "smp_version: v0.6.1\nactual_qps: 10\n")
	badOptions := writeFile(t, "tcp.yaml", `{"duration": "1s", "clients": [{"endpoint_urls": ["tcp://127.0.0.1:1"], "additional_options": "{\"delimeter\": \";\"}"}]}`)
	badGRPCOptions := writeFile(t, "grpc.yaml", `{"duration": "1s", "clients": [{"protocol": "GRPC", "endpoint_urls": ["http://127.0.0.1:1"], "additional_options": "{\"max_recv_msg_bytes\": \"big\"}"}]}`)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unreachable", []string{"run", "http://127.0.0.1:1/", "-d", "1s"}, 3, "connection refused at 127.0.0.1:1: is the target running"},
		{"no target", []string{"run"}, 2, "no target"},
		{"bad format", []string{"run", "http://127.0.0.1:1/", "--format", "xml"}, 2, "--format"},
		{"bad output name", []string{"run", "http://127.0.0.1:1/", "-o", filepath.Join(dir, "r.txt")}, 2, ".json, .yaml"},
		{"output dir missing", []string{"run", "http://127.0.0.1:1/", "-o", filepath.Join(dir, "no", "r.json")}, 2, "does not exist"},
		{"negative qps", []string{"run", "http://127.0.0.1:1/", "--qps", "-5"}, 2, "--qps"},
		{"unknown protocol", []string{"run", "http://127.0.0.1:1/", "--protocol", "gopher"}, 2, "unknown protocol"},
		{"protocol does not fit the URL", []string{"run", "http://127.0.0.1:1/", "--protocol", "tcp"}, 2, `scheme "http" does not fit protocol tcp`},
		{"bad additional_options", []string{"run", "-f", badOptions}, 2, "clients[0].additional_options: unknown key"},
		{"gRPC options on a file", []string{"run", "-f", badGRPCOptions}, 2, "clients[0].additional_options: max_recv_msg_bytes"},
		{"bad duration", []string{"run", "http://127.0.0.1:1/", "-d", "soon"}, 2, "invalid argument"},
		{"bad URL", []string{"run", "ftp://127.0.0.1:1/"}, 2, `unknown scheme "ftp"`},
		{"bad SLO", []string{"run", "http://127.0.0.1:1/", "--slo", "p99<soon"}, 2, "--slo"},
		{"SLO without operator", []string{"run", "http://127.0.0.1:1/", "--slo", "p99"}, 2, "metric<value"},
		{"junit without SLO", []string{"run", "http://127.0.0.1:1/", "--junit", filepath.Join(dir, "j.xml")}, 2, "--junit"},
		{"report dir missing", []string{"run", "http://127.0.0.1:1/", "--report", filepath.Join(dir, "no", "r.html")}, 2, "does not exist"},
		{"zero runs", []string{"run", "http://127.0.0.1:1/", "--runs", "0"}, 2, "--runs"},
		{"negative pause", []string{"run", "http://127.0.0.1:1/", "--pause", "-1s"}, 2, "--pause"},
		{"variant without name", []string{"run", "--variant", "http://127.0.0.1:1/"}, 2, "NAME=URL"},
		{"variant and URL", []string{"run", "http://127.0.0.1:1/", "--variant", "a=http://127.0.0.1:1/"}, 2, "not as an argument"},
		{"variant name twice", []string{"run", "--variant", "a=http://127.0.0.1:1/", "--variant", "a=http://127.0.0.1:2/"}, 2, "given twice"},
		{"variant name with a slash", []string{"run", "--variant", "a/b=http://127.0.0.1:1/", "--variant", "c=http://127.0.0.1:2/"}, 2, "names output files"},
		{"variants to json", []string{"run", "--variant", "a=http://127.0.0.1:1/", "--variant", "b=http://127.0.0.1:2/", "--format", "json"}, 2, "use -o"},
		{"bad second variant", []string{"run", "--variant", "a=http://127.0.0.1:1/", "--variant", "b=ftp://127.0.0.1:2/"}, 2, "variant b:"},
		{"variant file missing", []string{"run", "--variant", "a=" + filepath.Join(dir, "nope.yaml")}, 2, "cannot read"},
		{"bad label", []string{"run", "http://127.0.0.1:1/", "--label", "nolabel"}, 2, "k=v"},
		{"bad header", []string{"run", "http://127.0.0.1:1/", "-H", "nocolon"}, 2, "Name: value"},
		{"cert without key", []string{"run", "http://127.0.0.1:1/", "--cert", "c.pem"}, 2, "--key"},
		{"missing config", []string{"run", "-f", filepath.Join(dir, "nope.yaml")}, 2, "cannot read"},
		{"result as config", []string{"run", "-f", result}, 2, "result.yaml: a result, not a test config"},
		{"Fortio result as config", []string{"run", "-f", fortioFixture}, 2, "fortio-http.json: a Fortio result, not a test config"},
		{"quickstart takes no args", []string{"quickstart", "x"}, 2, "unknown command"},
		{"quickstart bad delay", []string{"quickstart", "--delay", "forever"}, 2, "--delay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := smp(t, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, want %d; stderr %q lacks %q?\n%s", code, tt.code, stderr, tt.want, stdout)
			}
		})
	}
}

// The README's first command: the built-in target and 5 s at 1,000 rps,
// with the summary table on stdout.
func TestQuickstart(t *testing.T) {
	out := filepath.Join(t.TempDir(), "quickstart.json")
	code, stdout, stderr := smp(t, "quickstart", "-q", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"1000/s for 5", "requests   ", "latency ms", "corrected", "uncorrected", "p99.9", "generator  lateness"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	doc, err := spec.LoadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	r := doc.Result
	if n := r.GetRequests().GetTotal(); n < 4950 || n > 5050 || r.GetRequests().GetErrors() != 0 || r.GetRequestedQps() != 1000 || r.GetName() != "quickstart" {
		t.Errorf("result %q: requests %v, requested %v", r.GetName(), r.GetRequests(), r.GetRequestedQps())
	}
}
