package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/spec"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// resultFile writes a small valid result with a histogram and intervals.
func resultFile(t *testing.T, name string) string {
	t.Helper()
	h := hist.New()
	var ivs []*spec.PerformanceTestResult_Interval
	for s := 0; s < 5; s++ {
		for i := 1; i <= 100; i++ {
			h.Record(time.Duration(i*(s+1)) * 20 * time.Microsecond)
		}
		ivs = append(ivs, &spec.PerformanceTestResult_Interval{OffsetS: float64(s), Requests: 100, ActualQps: 100, P50Ms: 1, P99Ms: 2, MaxMs: 3})
	}
	data, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	r := &spec.PerformanceTestResult{
		Name: name, StartTime: timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), DurationS: 5, ActualQps: 100,
		Requests:    &spec.PerformanceTestResult_Requests{Total: 500, Ok: 500},
		StatusCodes: map[int32]int64{200: 500},
		LatenciesMs: &spec.PerformanceTestResult_Latency{Min: 0.02, Average: 5, P50: 4, P90: 8, P99: 9.5, Max: 10},
		Histogram:   &spec.PerformanceTestResult_Histogram{Encoding: hist.Encoding, Unit: hist.Unit, Data: data},
		Intervals:   ivs,
	}
	p := filepath.Join(t.TempDir(), name+".yaml")
	if err := spec.WriteFile(p, r); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReportCommand(t *testing.T) {
	a, b := resultFile(t, "base"), resultFile(t, "mesh")
	dir := t.TempDir()
	out := filepath.Join(dir, "r.html")
	code, stdout, stderr := smp(t, "report", a, b, "-o", out, "--title", "Mesh cost")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<h1>Mesh cost</h1>", "mesh vs base", `id="chart-spectrum"`, `id="chart-latency-1"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Fortio JSON by extension; it reads back through smp import.
	fj := filepath.Join(dir, "f.json")
	if code, _, stderr := smp(t, "report", a, "-o", fj); code != 0 {
		t.Fatalf("fortio: exit %d %s", code, stderr)
	}
	var f struct{ DurationHistogram struct{ Count int64 } }
	if data, err := os.ReadFile(fj); err != nil || json.Unmarshal(data, &f) != nil || f.DurationHistogram.Count != 500 {
		t.Errorf("fortio JSON: %v %+v", err, f)
	}
	back := filepath.Join(dir, "back.yaml")
	code, stdout, stderr = smp(t, "import", fj, "-o", back)
	if code != 0 || !strings.Contains(stdout, "fortio -> "+back) || !strings.Contains(stderr, "note: latency: written by smp") {
		t.Errorf("import: exit %d\n%s%s", code, stdout, stderr)
	}
	if doc, err := spec.LoadFile(back); err != nil || doc.Result.GetRequests().GetTotal() != 500 {
		t.Errorf("imported result: %v", err)
	}
	// Other formats to stdout.
	for format, want := range map[string]string{
		"hdrlog":          "#[Histogram log format version 1.3]",
		"csv-intervals":   "name,offset_s,requests",
		"csv-percentiles": "base,99.999,",
	} {
		code, stdout, stderr := smp(t, "report", a, "--format", format)
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("%s: exit %d, output lacks %q:\n%s%s", format, code, want, stdout, stderr)
		}
	}
}

func TestImportProfileCommand(t *testing.T) {
	prof := writeFile(t, "profiles.json", `{"profiles": [
	 {"name": "a", "endpoints": ["http://127.0.0.1:8080/"], "duration": "10s", "qps": 50, "concurrent_request": 4, "service_mesh": "istio"},
	 {"name": "b", "endpoints": ["http://127.0.0.1:8080/b"], "duration": "5s"}]}`)
	out := filepath.Join(t.TempDir(), "test.yaml")
	code, stdout, stderr := smp(t, "import", prof, "--profile", "a", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	doc, err := spec.LoadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	c := doc.Config.GetClients()[0]
	if doc.Kind != spec.KindConfig || c.GetRps() != 50 || c.GetConnections() != 4 || doc.Mesh.GetType() != spec.ServiceMesh_ISTIO {
		t.Errorf("config: %v", doc.Config)
	}
	// Meshery's {test, mesh} file comes out as a plain SMP config.
	code, stdout, _ = smp(t, "import", "../../examples/meshery-load-test.yaml")
	if code != 0 || !strings.Contains(stdout, "endpoint_urls:") || !strings.Contains(stdout, "type: ISTIO") {
		t.Errorf("meshery file: exit %d\n%s", code, stdout)
	}
}

// TestReportImportBadInput: bad input exits 2 with the file and the field.
func TestReportImportBadInput(t *testing.T) {
	good := resultFile(t, "good")
	config := writeFile(t, "config.yaml", "duration: 1s\nclients:\n- endpoint_urls: [http://127.0.0.1:1/]\n")
	broken := writeFile(t, "broken.yaml", "actual_qps: 5\nhistogram: {encoding: hdr-v2, unit: us, data: HISTFAAAAA}\n")
	badFortio := writeFile(t, "fortio.json", `{"RunType":"HTTP","DurationHistogram":{"Count":2,"Data":[{"Start":0.002,"End":0.001,"Count":2}]}}`)
	badProfile := writeFile(t, "profile.yaml", "name: p\nendpoints: [http://127.0.0.1/]\nqps: fast\n")
	twoProfiles := writeFile(t, "two.json", `[{"name":"a","endpoints":["http://127.0.0.1/"]},{"name":"b","endpoints":["http://127.0.0.1/"]}]`)
	missing := filepath.Join(t.TempDir(), "nope.json")
	tests := []struct {
		name  string
		args  []string
		wants []string
	}{
		{"report of a missing file", []string{"report", missing}, []string{"nope.json: cannot read"}},
		{"report of a config", []string{"report", config}, []string{"config.yaml: a config, not a result"}},
		{"hdr log of a broken histogram", []string{"report", broken, "--format", "hdrlog"}, []string{"broken.yaml", "histogram.data"}},
		{"unknown format", []string{"report", good, "--format", "pdf"}, []string{`--format "pdf"`, "html, fortio"}},
		{"fortio of two results", []string{"report", good, good, "--format", "fortio"}, []string{"writes one result; 2 given"}},
		{"too many names", []string{"report", good, "--name", "a", "--name", "b"}, []string{"2 --name values for 1 results"}},
		{"report of bad Fortio JSON", []string{"report", badFortio}, []string{"fortio.json", "DurationHistogram.Data[0].End", "below Start"}},
		{"import of bad Fortio JSON", []string{"import", badFortio}, []string{"fortio.json", "DurationHistogram.Data[0].End"}},
		{"import of a bad profile", []string{"import", badProfile}, []string{"profile.yaml:3", "qps", "whole number"}},
		{"import of several profiles", []string{"import", twoProfiles}, []string{"two.json", `2 profiles ("a", "b")`}},
		{"profile name for a result", []string{"import", badFortio, "--profile", "x"}, []string{"not a Meshery profile"}},
		{"import of a missing file", []string{"import", missing}, []string{"nope.json: cannot read"}},
		{"import without a file", []string{"import"}, []string{"accepts 1 arg"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := smp(t, tc.args...)
			if code != exitBadInput {
				t.Errorf("exit %d, want %d\n%s%s", code, exitBadInput, stdout, stderr)
			}
			for _, w := range tc.wants {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// fortioFixture is the JSON of a real Fortio run (see interop's
// TestFortioFixture).
const fortioFixture = "../../interop/testdata/fortio-http.json"

// TestFortioEverywhere: a Fortio result is read by every command that
// reads results, with a note that its latency is not corrected for
// coordinated omission.
func TestFortioEverywhere(t *testing.T) {
	data, err := os.ReadFile(fortioFixture)
	if err != nil {
		t.Fatal(err)
	}
	a := writeFile(t, "a-fortio.json", string(data))
	b := resultFile(t, "b")
	const uncorrected = "a-fortio.json: note: latency: fortio times each request from its actual send (not corrected for coordinated omission)"

	code, stdout, stderr := smp(t, "validate", a, b)
	if code != 0 || !strings.Contains(stdout, a+": ok: JSON, Fortio result (fortio 1.75.3), converted to an SMP result: p50 2.413115ms p99 8ms") ||
		!strings.Contains(stdout, uncorrected) || !strings.Contains(stdout, b+": ok: YAML, result") {
		t.Errorf("validate: exit %d\n%s%s", code, stdout, stderr)
	}

	code, stdout, stderr = smp(t, "compare", a, b)
	if code != 0 || !strings.Contains(stdout, "fortio loopback fixture") || !strings.Contains(stdout, "p50") ||
		!strings.Contains(stderr, uncorrected) ||
		!strings.Contains(stderr, "smp: note: the latency of "+a+" is not corrected for coordinated omission and that of "+b+" is") {
		t.Errorf("compare: exit %d\n%s%s", code, stdout, stderr)
	}
	// A copy of a result is the same result (id and start time): refused.
	dir := t.TempDir()
	data, err = os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	a2 := filepath.Join(dir, "a2-fortio.json")
	if err := os.WriteFile(a2, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := smp(t, "compare", a, a2); code != exitBadInput || !strings.Contains(stderr, "hold the same result (id 2026-11-30-041508_fortio_loopback_fixture)") {
		t.Errorf("compare with a copy: exit %d\n%s", code, stderr)
	}
	// Two Fortio results time latency alike: no note on the mix.
	other := filepath.Join(dir, "other-fortio.json")
	if err := os.WriteFile(other, bytes.ReplaceAll(data, []byte("041508_fortio"), []byte("051508_fortio")), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = smp(t, "compare", a, other)
	if code != 0 || strings.Contains(stderr, "smp: note") {
		t.Errorf("compare of Fortio results: exit %d\n%s", code, stderr)
	}

	code, stdout, stderr = smp(t, "meshmark", a, "--slo-p99", "10ms")
	if code != exitBadInput || !strings.Contains(stderr, uncorrected) || !strings.Contains(stderr, "a-fortio.json") {
		t.Errorf("meshmark without resource figures: exit %d\n%s%s", code, stdout, stderr)
	}

	code, stdout, stderr = smp(t, "report", a, "--format", "csv-percentiles")
	if code != 0 || !strings.Contains(stdout, "fortio loopback fixture,50,") || !strings.Contains(stderr, uncorrected) {
		t.Errorf("report: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestValidateOtherTools: Meshery profiles and results are checked as
// they are converted; a bad one exits 2 with its field.
func TestValidateOtherTools(t *testing.T) {
	profiles := writeFile(t, "profiles.json", `{"page": 0, "profiles": [
	 {"name": "a", "endpoints": ["http://127.0.0.1:8080/"], "duration": "10s", "service_mesh": "istio"},
	 {"name": "b", "endpoints": ["http://127.0.0.1:8080/b"]}]}`)
	mesheryResult := writeFile(t, "meshery.json", `{"name": "run", "mesh": "linkerd", "runner_results": {"load-generator": "wrk2",
	 "DurationHistogram": {"Count": 1, "Min": 0.001, "Max": 0.001, "Data": [{"Start": 0.001, "End": 0.001, "Count": 1}]}}}`)
	badProfile := writeFile(t, "bad.yaml", "name: p\nendpoints: [http://127.0.0.1/]\nqps: fast\n")
	code, stdout, stderr := smp(t, "validate", profiles, mesheryResult)
	for _, want := range []string{
		profiles + `: ok: JSON, 2 Meshery performance profiles, converted to SMP test configs: "a" (1 client, 1 endpoint, duration 10s, mesh ISTIO); "b"`,
		profiles + `: note: profile "b": duration: not set in the profile; the config uses 30s`,
		mesheryResult + ": ok: JSON, Meshery result (wrk2), converted to an SMP result: p50 1ms p99 1ms, actual_qps 0, mesh LINKERD",
		mesheryResult + ": note: latency: wrk2 times each request from its intended send (corrected",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("validate lacks %q:\nexit %d\n%s%s", want, code, stdout, stderr)
		}
	}
	code, _, stderr = smp(t, "validate", badProfile)
	if code != exitBadInput || !strings.Contains(stderr, "bad.yaml:3: qps") {
		t.Errorf("bad profile: exit %d\n%s", code, stderr)
	}
}
