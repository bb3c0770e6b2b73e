package meshmark

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const exampleYAML = `# The README's worked example.
service_level:
  slo_p99_ms: 25
  achieved_p99_ms: 31.25
resources:
  - {component: sidecar, class: cpu, used: 180, assigned: 500, unit: mcores}
  - {component: ingress_gateway, class: cpu, used: 300, assigned: 1000, unit: mcores, weight: 0.2}
  - {component: control_plane, class: cpu, used: 50, assigned: 500, unit: mcores, weight: -0.5}
  - component: sidecar
    class: memory
    used: 96
    assigned: 128
    unit: MiB
  - {component: control_plane, class: memory, used: 256, assigned: 1024, unit: MiB}
  - {component: sidecar, class: network, used: 40, assigned: 1000, unit: Mbps}
`

func TestParseMeasurements(t *testing.T) {
	m, err := ParseMeasurements("m.yaml", []byte(exampleYAML))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Resources) != 6 || m.ServiceLevel.SLOP99Ms != 25 || m.ServiceLevel.AchievedP99Ms != 31.25 {
		t.Fatalf("%+v", m)
	}
	if r := m.Resources[1]; r.Component != "ingress_gateway" || r.Class != "cpu" || r.Used != 300 || r.Assigned != 1000 || r.Unit != "mcores" || r.Weight != 0.2 {
		t.Errorf("resources[1] = %v", r)
	}
	// The same numbers as the Go example: the same score.
	mm, err := Compute(Input{Resources: m.Resources, ServiceLevel: m.ServiceLevel})
	if err != nil {
		t.Fatal(err)
	}
	if !near(mm.Score, 100*((0.64+0.84+0.45)/3+(0.25+0.75)/2+0.96+0.8)/4) {
		t.Errorf("score %v", mm.Score)
	}
}

func TestParseMeasurements_Errors(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"empty", "", "m.yaml: empty document"},
		{"not a mapping", "- 1\n", "m.yaml:1: want a mapping"},
		{"syntax", "resources: [\n", "m.yaml: yaml:"},
		{"unknown top field", "resource: []\n", "m.yaml:1: resource: unknown field"},
		{"no resources", "service_level: {slo_p99_ms: 25}\n", "m.yaml:1: resources: required"},
		{"resources not a list", "resources: 3\n", "m.yaml:1: resources: want a list"},
		{"weight out of range", "resources:\n  - {component: s, class: cpu, used: 1, assigned: 2}\n  - {component: s, class: cpu, used: 1, assigned: 2, weight: 0.7}\n",
			"m.yaml:3: resources[1].weight: 0.7: outside [-0.5, +0.5]"},
		{"used not a number", "resources:\n  - component: s\n    class: cpu\n    used: lots\n    assigned: 2\n", `m.yaml:4: resources[0].used: "lots": want a number`},
		{"quoted number", "resources:\n  - {component: s, class: cpu, used: \"1\", assigned: 2}\n", `resources[0].used: "1": want a number`},
		{"missing assigned", "resources:\n  - {component: s, class: cpu, used: 1}\n", "m.yaml:2: resources[0].assigned: required"},
		{"bad class", "resources:\n  - {component: s, class: disk, used: 1, assigned: 2}\n", `m.yaml:2: resources[0].class: "disk": want one of cpu, memory, network`},
		{"unknown resource field", "resources:\n  - {component: s, class: cpu, used: 1, assigned: 2, limit: 4}\n", "resources[0].limit: unknown field"},
		{"assigned zero", "resources:\n  - {component: s, class: cpu, used: 1, assigned: 0}\n", "resources[0].assigned: 0: must be a finite number > 0"},
		{"component not a string", "resources:\n  - {component: [a], class: cpu, used: 1, assigned: 2}\n", "resources[0].component: want a string"},
		{"NaN", "resources:\n  - {component: s, class: cpu, used: .nan, assigned: 2}\n", "resources[0].used: NaN"},
		{"service level weight", "service_level: {weight: 2}\nresources:\n  - {component: s, class: cpu, used: 1, assigned: 2}\n", "m.yaml:1: service_level.weight: 2: outside"},
		{"service level field", "service_level: {p99: 2}\nresources: []\n", "m.yaml:1: service_level.p99: unknown field"},
		{"negative SLO", "service_level: {slo_p99_ms: -3}\nresources:\n  - {component: s, class: cpu, used: 1, assigned: 2}\n", "service_level.slo_p99_ms: -3"},
	}
	for _, tt := range tests {
		_, err := ParseMeasurements("m.yaml", []byte(tt.doc))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tt.name, err, tt.want)
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.File != "m.yaml" {
			t.Errorf("%s: %T is not a *FieldError for m.yaml", tt.name, err)
		}
	}
}

func TestLoadMeasurements(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.yaml")
	if err := os.WriteFile(path, []byte(exampleYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if m, err := LoadMeasurements(path); err != nil || len(m.Resources) != 6 {
		t.Errorf("%v, %v", m, err)
	}
	if _, err := LoadMeasurements(filepath.Join(t.TempDir(), "none.yaml")); err == nil || !strings.Contains(err.Error(), "none.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzParseMeasurements: no input makes the parser panic, and whatever it
// accepts, Compute accepts too.
func FuzzParseMeasurements(f *testing.F) {
	f.Add([]byte(exampleYAML))
	f.Add([]byte("resources:\n  - {component: s, class: cpu, used: 1, assigned: 2, weight: 0.5}\n"))
	f.Add([]byte("service_level: {slo_p99_ms: 1e308, achieved_p99_ms: 1e-308}\nresources: [{component: s, class: network, used: 0, assigned: 1e-300}]\n"))
	f.Add([]byte("resources: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMeasurements("fuzz.yaml", data)
		if err != nil {
			return
		}
		sl := m.ServiceLevel
		if sl.SLOP99Ms > 0 && sl.AchievedP99Ms == 0 {
			sl.AchievedP99Ms = 1
		}
		mm, err := Compute(Input{Resources: m.Resources, ServiceLevel: sl})
		if err != nil {
			t.Fatalf("parsed but not computable: %v", err)
		}
		if mm.Score < 0 || mm.Score > 100 {
			t.Fatalf("score %v outside [0, 100]", mm.Score)
		}
	})
}
