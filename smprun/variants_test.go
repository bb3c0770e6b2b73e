package smprun

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/stats"
)

func TestVariants(t *testing.T) {
	loaded := map[string]*spec.PerformanceTestConfig{
		"dir/base.yaml": {Name: "", Clients: []*spec.PerformanceTestConfig_Client{{EndpointUrls: []string{"http://a/"}}}},
		"dir/mesh.yaml": {Name: "istio", Clients: []*spec.PerformanceTestConfig_Client{{EndpointUrls: []string{"http://b/"}}}},
	}
	load := func(path string) (*spec.PerformanceTestConfig, *spec.ServiceMesh, error) {
		if c, ok := loaded[path]; ok {
			return c, nil, nil
		}
		return nil, nil, errors.New(path + ": cannot read")
	}
	tests := []struct {
		name    string
		src     Sources
		want    []string // variant names
		urls    []string // each variant's first endpoint
		wantErr string
	}{
		{"URL", Sources{Settings: Settings{URLs: []string{"http://x/"}}}, []string{""}, []string{"http://x/"}, ""},
		{"one file", Sources{Files: []string{"dir/base.yaml"}}, []string{""}, []string{"http://a/"}, ""},
		{"files are variants", Sources{Files: []string{"dir/base.yaml", "dir/mesh.yaml"}}, []string{"base", "istio"}, []string{"http://a/", "http://b/"}, ""},
		{"URL variants over a file", Sources{Files: []string{"dir/base.yaml"}, Variants: []string{"a=http://x/", " b = http://y/"}},
			[]string{"a", "b"}, []string{"http://x/", "http://y/"}, ""},
		{"file variant", Sources{Variants: []string{"m=dir/mesh.yaml"}}, []string{"m"}, []string{"http://b/"}, ""},
		{"no target", Sources{}, nil, nil, "no target"},
		{"variant and URL", Sources{Variants: []string{"a=http://x/"}, Settings: Settings{URLs: []string{"http://y/"}}}, nil, nil, "not as an argument"},
		{"variant without name", Sources{Variants: []string{"http://x/"}}, nil, nil, "NAME=URL"},
		{"file variant and -f", Sources{Files: []string{"dir/base.yaml"}, Variants: []string{"m=dir/mesh.yaml"}}, nil, nil, "does not combine with -f"},
		{"missing file", Sources{Files: []string{"nope.yaml"}}, nil, nil, "cannot read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.src.LoadConfig = load
			vs, err := Variants(tt.src)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) != len(tt.want) {
				t.Fatalf("%d variants, want %d", len(vs), len(tt.want))
			}
			for i, v := range vs {
				if v.Name != tt.want[i] || v.Config.Clients[0].EndpointUrls[0] != tt.urls[i] {
					t.Errorf("variant %d: %q %v", i, v.Name, v.Config.Clients[0].EndpointUrls)
				}
				if v.Name != "" && v.Result.Labels["variant"] != v.Name {
					t.Errorf("variant %d labels %v", i, v.Result.Labels)
				}
			}
		})
	}
}

func TestCheckSeries(t *testing.T) {
	cfg := func(c int32) *spec.PerformanceTestConfig {
		return &spec.PerformanceTestConfig{Clients: []*spec.PerformanceTestConfig_Client{{Connections: c, EndpointUrls: []string{"http://a/"}}}}
	}
	two := []Variant{{Name: "a", Config: cfg(1)}, {Name: "b", Config: cfg(1000)}}
	if err := CheckSeries(two, Outputs{Format: "text"}, 0); err != nil {
		t.Errorf("two variants, text: %v", err)
	}
	if err := CheckSeries(two, Outputs{Format: "json"}, 0); err == nil || !strings.Contains(err.Error(), "use -o") {
		t.Errorf("two variants, json: %v", err)
	}
	if err := CheckSeries(two, Outputs{}, 500); err == nil || !strings.Contains(err.Error(), "variant b: -c 1000 needs about 1,064 open files") {
		t.Errorf("file limit: %v", err)
	}
	if err := CheckSeries([]Variant{{Config: cfg(1)}, {Config: cfg(1)}}, Outputs{}, 0); err == nil || !strings.Contains(err.Error(), "needs a name") {
		t.Errorf("unnamed variants: %v", err)
	}
}

func TestOutputsCheck(t *testing.T) {
	dir := t.TempDir()
	slo, err := stats.ParseSLO("p99<25ms")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		o       Outputs
		wantErr string
	}{
		{"none", Outputs{}, ""},
		{"every output", Outputs{File: filepath.Join(dir, "r.yml"), Format: "fortio", Report: filepath.Join(dir, "r.html"),
			HDRLog: filepath.Join(dir, "r.hlog"), JUnit: filepath.Join(dir, "j.xml"), SLOs: []stats.SLO{slo}}, ""},
		{"format", Outputs{Format: "xml"}, `--format "xml": allowed are text, json, yaml, fortio`},
		{"result file", Outputs{File: filepath.Join(dir, "r.txt")}, "must end in .json, .yaml or .yml"},
		{"directory", Outputs{Report: filepath.Join(dir, "no", "r.html")}, "--report " + filepath.Join(dir, "no", "r.html") + ": directory"},
		{"JUnit without SLOs", Outputs{JUnit: filepath.Join(dir, "j.xml")}, "give at least one --slo"},
	} {
		err := tt.o.Check()
		if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

// Write puts every output where it was asked for, one file per variant
// where several go, and an output that cannot be written is an
// *OutputError.
func TestOutputsWrite(t *testing.T) {
	dir := t.TempDir()
	variant := func(name string, d time.Duration) *VariantResult {
		c := figuresOf("c", 100, d, 0, 0)
		t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		lr := &load.Result{Start: t0, End: t0.Add(time.Second), Elapsed: time.Second, Span: time.Second, Duration: time.Second,
			Total: c, Clients: []load.Figures{c}}
		cfg := &spec.PerformanceTestConfig{Clients: []*spec.PerformanceTestConfig_Client{{EndpointUrls: []string{"http://a/"}}}}
		r, err := ToSMP(lr, cfg, ResultOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r.Name = name
		return &VariantResult{Name: name, Runs: []*load.Result{lr}, Load: lr, Result: r}
	}
	vrs := []*VariantResult{variant("base", time.Millisecond), variant("mesh", 2*time.Millisecond)}
	slo, err := stats.ParseSLO("p99<1500us")
	if err != nil {
		t.Fatal(err)
	}
	o := Outputs{File: filepath.Join(dir, "r.yaml"), Report: filepath.Join(dir, "r.html"), HDRLog: filepath.Join(dir, "r.hlog"),
		JUnit: filepath.Join(dir, "j.xml"), SLOs: []stats.SLO{slo}}
	var stdout, stderr strings.Builder
	checks, err := o.Write(&stdout, &stderr, vrs)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"r-base.yaml", "r-mesh.yaml", "r-base.hlog", "r-mesh.hlog", "r.html", "j.xml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	if v := Judge(vrs, checks); len(checks) != 2 || len(v.Failed) != 1 || !strings.HasPrefix(v.Failed[0], "mesh: SLO p99<1500us FAILED") || len(v.Partial) != 0 {
		t.Errorf("checks %v, verdict %+v", checks, v)
	}
	// Each result file carries its own verdicts.
	for _, tc := range []struct {
		file string
		pass bool
	}{{"r-base.yaml", true}, {"r-mesh.yaml", false}} {
		doc, err := spec.LoadFile(filepath.Join(dir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		cs := doc.Result.GetSloChecks()
		if len(cs) != 1 || cs[0].GetObjective() != "p99<1500us" || cs[0].GetPass() != tc.pass || cs[0].GetThreshold() != 1.5 ||
			cs[0].GetUnit() != "ms" || cs[0].GetMeasured() <= 0 {
			t.Errorf("%s: slo_checks %v, want p99<1500us pass=%v", tc.file, cs, tc.pass)
		}
	}
	for _, want := range []string{"== base ==", "== mesh ==", "mesh: SLO p99<1500us FAILED", "mesh vs base"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}

	taken := filepath.Join(dir, "taken.yaml")
	if err := os.Mkdir(taken, 0o755); err != nil {
		t.Fatal(err)
	}
	fallback := t.TempDir()
	t.Setenv("TMPDIR", fallback)
	stderr.Reset()
	_, err = Outputs{File: taken}.Write(&stdout, &stderr, vrs[:1])
	var oe *OutputError
	if !errors.As(err, &oe) {
		t.Errorf("writing over a directory: err = %v (%T), want an *OutputError", err, err)
	}
	saved, _ := filepath.Glob(filepath.Join(fallback, "smp-result-*.yaml"))
	if len(saved) != 1 || !strings.Contains(stderr.String(), "the result is saved to "+saved[0]) {
		t.Errorf("fallback %v, stderr %q", saved, stderr.String())
	} else if doc, err := spec.LoadFile(saved[0]); err != nil || doc.Result.GetRequests().GetTotal() != 100 {
		t.Errorf("fallback: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
