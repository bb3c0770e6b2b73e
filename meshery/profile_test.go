package meshery

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smp-project/smp/spec"
)

const snakeProfile = `# mesheryctl perf profile -o yaml
id: 8a1c5b1e-0000-4000-8000-000000000001
name: istio-productpage
load_generators: [fortio]
endpoints: ["http://127.0.0.1:9080/productpage"]
service_mesh: istio
concurrent_request: 8
qps: 250
duration: 90s
request_headers: '{"X-Test": "1", "Accept": "text/html"}'
request_cookies: '{"session": "abc"}'
request_body: ""
content_type: ""
metadata:
  additional_options: '{"resolution": 0.0001}'
last_run: 2024-05-01T10:00:00Z
total_results: 12
`

const camelProfile = `{
  "id": "p2", "name": "linkerd-post", "loadGenerators": ["wrk2", "fortio"],
  "endpoints": ["http://127.0.0.1:8080/a", "http://127.0.0.1:8080/b"], "serviceMesh": "Linkerd",
  "concurrentRequest": 2, "qps": 0, "duration": "1m",
  "requestHeaders": {"Authorization": "Bearer x"}, "requestBody": "{\"k\":1}", "contentType": "application/json",
  "createdAt": "2024-01-01T00:00:00Z", "updatedAt": null
}`

func TestProfileConfig(t *testing.T) {
	tests := []struct {
		name      string
		data      string
		check     func(t *testing.T, c *spec.PerformanceTestConfig)
		wantNotes []string
	}{
		{"snake_case YAML", snakeProfile, func(t *testing.T, c *spec.PerformanceTestConfig) {
			cl := c.GetClients()[0]
			if c.GetName() != "istio-productpage" || c.GetId() != "8a1c5b1e-0000-4000-8000-000000000001" || c.GetDuration() != "90s" ||
				cl.GetConnections() != 8 || cl.GetRps() != 250 || cl.GetLoadGenerator() != "fortio" ||
				cl.GetProtocol() != spec.PerformanceTestConfig_Client_PROTOCOL_HTTP ||
				cl.GetHeaders()["X-Test"] != "1" || cl.GetHeaders()["Accept"] != "text/html" || cl.GetCookies()["session"] != "abc" ||
				cl.GetAdditionalOptions() != `{"resolution": 0.0001}` || c.GetMesh().GetType() != spec.ServiceMesh_ISTIO {
				t.Errorf("config: %v", c)
			}
		}, nil},
		{"camelCase JSON", camelProfile, func(t *testing.T, c *spec.PerformanceTestConfig) {
			cl := c.GetClients()[0]
			if c.GetName() != "linkerd-post" || c.GetDuration() != "1m" || cl.GetConnections() != 2 || cl.GetRps() != 0 ||
				len(cl.GetEndpointUrls()) != 2 || cl.GetLoadGenerator() != "wrk2" || cl.GetHeaders()["Authorization"] != "Bearer x" ||
				cl.GetBody() != `{"k":1}` || cl.GetContentType() != "application/json" || c.GetMesh().GetType() != spec.ServiceMesh_LINKERD {
				t.Errorf("config: %v", c)
			}
		}, []string{"load_generators: wrk2, fortio listed", "Meshery tests only the first of 2 endpoints"}},
		{"defaults", `{"name": "bare", "endpoints": ["grpc://127.0.0.1:50051"], "service_mesh": "None"}`, func(t *testing.T, c *spec.PerformanceTestConfig) {
			cl := c.GetClients()[0]
			if c.GetDuration() != "30s" || cl.GetConnections() != 1 || c.GetMesh() != nil ||
				cl.GetProtocol() != spec.PerformanceTestConfig_Client_PROTOCOL_GRPC {
				t.Errorf("config: %v", c)
			}
		}, []string{"duration: not set", "concurrent_request: 0 or missing"}},
		{"mesh aliases", `{"endpoints": ["http://127.0.0.1/"], "duration": "5s", "service_mesh": "osm"}`, func(t *testing.T, c *spec.PerformanceTestConfig) {
			if c.GetMesh().GetType() != spec.ServiceMesh_OPEN_SERVICE_MESH {
				t.Errorf("mesh %v", c.GetMesh())
			}
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !IsProfile([]byte(tc.data)) {
				t.Fatal("not recognised as a profile")
			}
			ps, err := Parse([]byte(tc.data), "p.yaml")
			if err != nil {
				t.Fatal(err)
			}
			p, err := Select(ps, "")
			if err != nil {
				t.Fatal(err)
			}
			c, notes, err := p.Config()
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
			all := strings.Join(notes, "\n")
			for _, w := range tc.wantNotes {
				if !strings.Contains(all, w) {
					t.Errorf("notes lack %q:\n%s", w, all)
				}
			}
			// The config is a valid SMP document that smp can run.
			y, err := spec.Encode(c, "yaml")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := spec.LoadAs(y, "converted.yaml", spec.KindConfig); err != nil {
				t.Errorf("converted config does not validate: %v\n%s", err, y)
			}
		})
	}
}

func TestProfileList(t *testing.T) {
	page := `{"page": 0, "page_size": 10, "total_count": 2, "profiles": [
	  {"name": "a", "endpoints": ["http://127.0.0.1/"], "duration": "10s"},
	  {"id": "id-b", "name": "b", "endpoints": ["http://127.0.0.1/b"], "duration": "20s"}]}`
	ps, err := Parse([]byte(page), "list.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 || ps[1].Path != "profiles[1]" {
		t.Fatalf("profiles: %+v", ps)
	}
	if _, err := Select(ps, ""); err == nil || !strings.Contains(err.Error(), `2 profiles ("a", "b")`) {
		t.Errorf("ambiguous selection: %v", err)
	}
	for _, name := range []string{"b", "id-b"} {
		if p, err := Select(ps, name); err != nil || p.Name != "b" {
			t.Errorf("select %q: %v %v", name, p, err)
		}
	}
	if _, err := Select(ps, "c"); err == nil || !strings.Contains(err.Error(), `no profile named "c"`) {
		t.Errorf("missing profile: %v", err)
	}
	list := "- name: x\n  endpoints: [http://127.0.0.1/]\n  qps: 5\n"
	if ps, err := Parse([]byte(list), "l.yaml"); err != nil || len(ps) != 1 || ps[0].QPS != 5 {
		t.Errorf("YAML list: %v %v", ps, err)
	}
}

// TestProfileBadInput: each problem names the file, the line where known,
// and the field.
func TestProfileBadInput(t *testing.T) {
	tests := []struct {
		name  string
		data  string
		wants []string
	}{
		{"empty", "  \n", []string{"p.yaml", "empty"}},
		{"not a mapping", "42", []string{"expected a profile"}},
		{"malformed", "name: [x", []string{"p.yaml", "malformed"}},
		{"unknown field", "name: x\nendpoints: [http://127.0.0.1/]\nconcurent_request: 3\n", []string{"p.yaml:3", "concurent_request", "unknown field", "concurrent_request"}},
		{"negative qps", "endpoints: [http://127.0.0.1/]\nqps: -5\n", []string{"p.yaml:2", "qps", "must not be negative"}},
		{"not a number", "endpoints: [http://127.0.0.1/]\nconcurrent_request: lots\n", []string{"concurrent_request", `"lots"`, "whole number"}},
		{"fraction", "endpoints: [http://127.0.0.1/]\nqps: 2.5\n", []string{"qps", "whole number"}},
		{"headers not JSON", "endpoints: [http://127.0.0.1/]\nrequest_headers: 'X-A: b'\n", []string{"p.yaml:2", "request_headers", "JSON object"}},
		{"headers nested", "endpoints: [http://127.0.0.1/]\nrequest_headers: '{\"a\": {\"b\": 1}}'\n", []string{"request_headers.a", "string value"}},
		{"endpoints a mapping", "endpoints: {a: b}\n", []string{"endpoints", "list of strings"}},
		{"profiles not a list", "profiles: {a: 1}\n", []string{"profiles", "list of profiles"}},
		{"entry not a mapping", "profiles: [1]\n", []string{"profiles[0]", "expected a profile"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.data), "p.yaml")
			if err == nil {
				t.Fatal("accepted")
			}
			var errs spec.Errors
			if !errors.As(err, &errs) {
				t.Errorf("error is %T", err)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestProfileConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		data  string
		wants []string
	}{
		{"no endpoints", "name: x\nduration: 1s\n", []string{"endpoints", "at least one endpoint"}},
		{"relative URL", "endpoints: [/productpage]\n", []string{"endpoints[0]", "not an absolute URL"}},
		{"tcp endpoint", "endpoints: [tcp://127.0.0.1:1]\n", []string{"endpoints[0]", "HTTP or gRPC"}},
		{"mixed protocols", "endpoints: [http://127.0.0.1/, grpc://127.0.0.1:1]\n", []string{"endpoints[1]", "mixes protocols"}},
		{"bad duration", "endpoints: [http://127.0.0.1/]\nduration: soon\n", []string{"duration", `"soon"`, "Go duration"}},
		{"zero duration", "endpoints: [http://127.0.0.1/]\nduration: 0s\n", []string{"duration", "positive"}},
		{"unknown mesh", "endpoints: [http://127.0.0.1/]\nservice_mesh: meshy\n", []string{"service_mesh", `"meshy"`, "unknown service mesh", "istio"}},
		{"too many connections", "endpoints: [http://127.0.0.1/]\nconcurrent_request: 2000000\n", []string{"concurrent_request", "more than"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := Parse([]byte(tc.data), "p.yaml")
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = ps[0].Config()
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range append(tc.wants, "p.yaml") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestIsProfile(t *testing.T) {
	meshery, err := os.ReadFile(filepath.Join("..", "examples", "meshery-load-test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data string
		want bool
	}{
		{"profile", snakeProfile, true},
		{"camel", camelProfile, true},
		{"list page", `{"profiles": []}`, true},
		{"Meshery {test, mesh} file", string(meshery), false},
		{"Fortio result", `{"RunType": "HTTP", "DurationHistogram": {}}`, false},
		{"SMP config", "duration: 1s\nclients: []\n", false},
		{"junk", "\x00\x01", false},
	} {
		if got := IsProfile([]byte(tc.data)); got != tc.want {
			t.Errorf("%s: IsProfile = %v", tc.name, got)
		}
	}
}

// FuzzParse: no input panics; every accepted profile converts or reports
// spec.Errors.
func FuzzParse(f *testing.F) {
	f.Add([]byte(snakeProfile))
	f.Add([]byte(camelProfile))
	f.Add([]byte(`{"profiles": [{"endpoints": ["http://127.0.0.1/"], "qps": 1e3}]}`))
	f.Add([]byte("- endpoints: x\n  request_headers: '{\"a\": [1]}'\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := Parse(data, "fuzz.yaml")
		if err != nil {
			var errs spec.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T is not spec.Errors", err)
			}
			return
		}
		for _, p := range ps {
			if _, _, err := p.Config(); err != nil {
				var errs spec.Errors
				if !errors.As(err, &errs) {
					t.Fatalf("config error %T is not spec.Errors", err)
				}
			}
		}
	})
}
