package spec

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smp-project/smp/internal/testdocs"

	"google.golang.org/protobuf/proto"
)

func TestLoadBadInput(t *testing.T) {
	for _, tc := range testdocs.BadDocuments(MaxFileSize) {
		t.Run(tc.Name, func(t *testing.T) {
			_, err := Load([]byte(tc.Doc), "in.yaml")
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("Load accepted a bad document (err = %v)", err)
			}
			var found *FieldError
			for _, e := range errs {
				if e.Path == tc.WantPath && strings.Contains(e.Error(), tc.WantMsg) {
					found = e
				}
			}
			if found == nil {
				t.Fatalf("no error at path %q containing %q; got:\n%v", tc.WantPath, tc.WantMsg, err)
			}
			if found.File != "in.yaml" {
				t.Errorf("error does not name the file: %v", found)
			}
			if tc.WantLine != 0 && found.Line != tc.WantLine {
				t.Errorf("line = %d, want %d (%v)", found.Line, tc.WantLine, found)
			}
		})
	}
}
func TestLoadReportsEveryError(t *testing.T) {
	doc := "duration: x\nclients:\n- connections: 0\n  rps: -1\n  endpoint_urls: ['', 'tcp://a:1']\n"
	_, err := Load([]byte(doc), "f.yaml")
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v", err)
	}
	want := []string{"duration", "clients[0].connections", "clients[0].rps", "clients[0].endpoint_urls[0]"}
	got := map[string]bool{}
	for _, e := range errs {
		got[e.Path] = true
	}
	for _, p := range want {
		if !got[p] {
			t.Errorf("missing error for %s in:\n%v", p, err)
		}
	}
}

func TestLoadDialects(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		kind Kind
		fmt  string
		test func(t *testing.T, d *Document)
	}{
		{"v0.1 names", "smps_version: v0.1.0\nclients:\n- endpoint_url: http://a/\nduration: 5s\n", KindConfig, "yaml", func(t *testing.T, d *Document) {
			if d.Config.GetSmpVersion() != "v0.1.0" || d.Config.Clients[0].EndpointUrls[0] != "http://a/" {
				t.Errorf("got %v", d.Config)
			}
		}},
		{"protocol by name", "clients:\n- protocol: PROTOCOL_GRPC\n  endpoint_urls: [grpc://a:1]\n- protocol: http\n  endpoint_urls: [http://a/]\n", KindConfig, "yaml", func(t *testing.T, d *Document) {
			if d.Config.Clients[0].Protocol != PerformanceTestConfig_Client_PROTOCOL_GRPC || d.Config.Clients[1].Protocol != PerformanceTestConfig_Client_PROTOCOL_HTTP {
				t.Errorf("got %v", d.Config)
			}
		}},
		{"json camelCase", `{"smpVersion":"v0.6.1","clients":[{"endpointUrls":["http://a/"],"rps":"100","contentType":"text/plain"}],"duration":"1m"}`, KindConfig, "json", func(t *testing.T, d *Document) {
			c := d.Config.Clients[0]
			if c.Rps != 100 || c.ContentType != "text/plain" || d.Config.SmpVersion != "v0.6.1" {
				t.Errorf("got %v", d.Config)
			}
		}},
		{"old result names", "smps_version: v0.1.0\nactual_QPS: 99.5\ntestId: abc\nlatencies_ms: {p50: 1.5}\n", KindResult, "yaml", func(t *testing.T, d *Document) {
			r := d.Result
			if r.ActualQps != 99.5 || r.TestId != "abc" || r.LatenciesMs.P50 != 1.5 || r.SmpVersion != "v0.1.0" {
				t.Errorf("got %v", r)
			}
		}},
		{"mesh by name", "test:\n  clients: [{endpoint_urls: [http://a/]}]\nmesh: {type: linkerd, version: '2.14'}\n", KindMeshery, "yaml", func(t *testing.T, d *Document) {
			if d.Mesh.GetType() != ServiceMesh_LINKERD || d.Config.GetMesh().GetVersion() != "2.14" {
				t.Errorf("got %v", d.Mesh)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Load([]byte(tc.doc), "x")
			if err != nil {
				t.Fatal(err)
			}
			if d.Kind != tc.kind || d.Format != tc.fmt {
				t.Errorf("kind, format = %s, %s; want %s, %s", d.Kind, d.Format, tc.kind, tc.fmt)
			}
			tc.test(t, d)
		})
	}
}

// examples are the SMP documents from the wild that must load: the copies
// shipped in examples/, plus the project's shared/ folder when it sits
// beside the checkout (it may hold newer ones).
func examples(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("../examples/*")
	if len(files) == 0 {
		t.Fatal("no examples found in ../examples")
	}
	shared, _ := filepath.Glob("../../shared/examples/*")
	return append(files, shared...)
}

func TestExamplesLoad(t *testing.T) {
	for _, f := range examples(t) {
		d, err := LoadFile(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		t.Logf("%s: %s", f, d.Summary())
	}
}

func TestLegacyResultConversion(t *testing.T) {
	d, err := LoadFile("../examples/legacy-result.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := d.Result
	if d.Kind != KindLegacyResult || r.GetLatenciesMs().GetP99() != 0.055 || r.GetLatenciesMs().GetMax() != 0.350472228 {
		t.Errorf("latencies not converted: %v", r.GetLatenciesMs())
	}
	if r.GetActualQps() != 0.9999971285438009 || r.GetEnvironment().GetKubernetesVersion() != "v1.15.5" {
		t.Errorf("client.rps / env.kubernetes not converted: %v", r)
	}
	if got := r.GetConfig().GetClients()[0].GetEndpointUrls(); len(got) != 1 || got[0] != "http://192.168.1.15/productpage" {
		t.Errorf("endpoint_url not converted: %v", got)
	}
	if r.GetMeshConfig().GetExpUuid() != "a0b57497-12f1-40a5-ae78-3fd3414c4a48" || r.GetStartTime().AsTime().Nanosecond() != 499893378 {
		t.Errorf("exp_uuid / start_time not converted: %v", r)
	}
}

// roundTrip checks load → write → load gives an equal message.
func roundTrip(t *testing.T, d *Document) {
	t.Helper()
	var m proto.Message = d.Config
	if d.Result != nil {
		m = d.Result
	}
	for _, format := range []string{"yaml", "json"} {
		b, err := Encode(m, format)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Load(b, "roundtrip."+format)
		if err != nil {
			t.Fatalf("%s: reload: %v\n%s", format, err, b)
		}
		var m2 proto.Message = again.Config
		if again.Result != nil {
			m2 = again.Result
		}
		if !proto.Equal(m, m2) {
			t.Errorf("%s round trip changed the message:\nbefore %v\nafter  %v\n%s", format, m, m2, b)
		}
		b2, _ := Encode(m2, format)
		if string(b) != string(b2) {
			t.Errorf("%s output not stable:\n%s\n---\n%s", format, b, b2)
		}
	}
}

func TestRoundTripExamples(t *testing.T) {
	for _, f := range examples(t) {
		d, err := LoadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(f), func(t *testing.T) { roundTrip(t, d) })
	}
}

func TestRoundTripFullResult(t *testing.T) {
	data, err := os.ReadFile("testdata/full-result.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Load(data, "full-result.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != KindResult || len(d.Result.GetRuns()) != 1 || d.Result.GetStatusCodes()[503] != 2 {
		t.Fatalf("full result misread: %v", d.Result)
	}
	roundTrip(t, d)
}

func TestDetectResultWithClients(t *testing.T) {
	doc := "actual_qps: 10\nclients:\n- name: a\n  actual_qps: 5\n- name: b\n  actual_qps: 5\n"
	d, err := Load([]byte(doc), "r.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != KindResult || len(d.Result.GetClients()) != 2 {
		t.Fatalf("kind %s, %d clients", d.Kind, len(d.Result.GetClients()))
	}
}

// A 64-bit seed (run_order.seed, uint64) survives YAML and JSON whole: it
// is parsed as an unsigned integer, not through a float.
func TestUint64RoundTrip(t *testing.T) {
	for _, format := range []string{"yaml", "json"} {
		r := &PerformanceTestResult{ActualQps: 1000, LatenciesMs: &PerformanceTestResult_Latency{P50: 1}, RunOrder: &PerformanceTestResult_RunOrder{Order: "random", Seed: math.MaxUint64 - 1}}
		data, err := Encode(r, format)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := Load(data, "r."+format)
		if err != nil {
			t.Fatalf("%s: %v\n%s", format, err, data)
		}
		if got := doc.Result.GetRunOrder().GetSeed(); got != math.MaxUint64-1 {
			t.Errorf("%s: seed %d, want %d", format, got, uint64(math.MaxUint64-1))
		}
	}
}
