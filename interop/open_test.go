package interop

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smp-project/smp/internal/testdocs"
	"github.com/smp-project/smp/spec"
	"google.golang.org/protobuf/proto"
)

// documents are the files every reader of outside documents must take:
// the examples shipped in examples/, the project's shared/ folder when it
// sits beside the checkout (it may hold newer ones), and testdata/ (a real
// Fortio run's JSON among them).
func documents(t testing.TB) []string {
	t.Helper()
	files, _ := filepath.Glob("../examples/*")
	if len(files) == 0 {
		t.Fatal("no examples found in ../examples")
	}
	shared, _ := filepath.Glob("../../shared/examples/*")
	fixtures, _ := filepath.Glob("testdata/*.json")
	return append(append(files, shared...), fixtures...)
}

// knownKinds are the kinds of the documents whose names say what they are;
// others only need to open.
var knownKinds = map[string]Kind{
	"legacy-result.yaml":     KindLegacyResult,
	"meshery-load-test.yaml": KindMeshery,
	"test-config.yaml":       KindConfig,
	"fortio-http.json":       KindFortio,
}

// TestOpenDocuments opens every document: a known kind, one test config or
// one result, the accessors agreeing, and SMP documents exactly as package
// spec loads them.
func TestOpenDocuments(t *testing.T) {
	for _, f := range documents(t) {
		t.Run(strings.TrimPrefix(f, "../"), func(t *testing.T) {
			d, err := Open(f)
			if err != nil {
				t.Fatal(err)
			}
			if want, ok := knownKinds[filepath.Base(f)]; ok && d.Kind != want {
				t.Errorf("kind %q, want %q", d.Kind, want)
			}
			if d.File != f || d.Summary() == "" {
				t.Errorf("file %q summary %q", d.File, d.Summary())
			}
			cfg, _, cerr := d.TestConfig()
			res, rerr := d.TestResult()
			switch {
			case d.Result != nil:
				if cerr == nil || rerr != nil || res != d.Result || len(d.Configs) != 0 {
					t.Errorf("a result: TestConfig %v, TestResult %v, %d configs", cerr, rerr, len(d.Configs))
				}
			case len(d.Configs) == 1:
				if cerr != nil || rerr == nil || cfg != d.Configs[0] {
					t.Errorf("a config: TestConfig %v, TestResult %v", cerr, rerr)
				}
			default:
				t.Errorf("neither one config nor a result: %d configs", len(d.Configs))
			}
			if d.Kind == KindFortio || d.Kind == KindMesheryResult || d.Kind == KindMesheryProfile {
				return
			}
			sd, err := spec.LoadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			// interop adds the note on a load generator other than smp.
			var notes []string
			for _, n := range d.Notes {
				if !strings.HasPrefix(n, "load_generator: ") {
					notes = append(notes, n)
				}
			}
			if d.Summary() != sd.Summary() || !equalNotes(notes, sd.Notes) || !proto.Equal(d.Result, sd.Result) {
				t.Errorf("differs from spec.LoadFile: %q / %q", d.Summary(), sd.Summary())
			}
		})
	}
}

func equalNotes(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

func readExample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const fortioOne = `{"RunType":"HTTP","DurationHistogram":{"Count":1,"Min":0.001,"Max":0.001,"Data":[{"Start":0.001,"End":0.001,"Percent":100,"Count":1}]},"RetCodes":{"200":1}}`

func TestReadKinds(t *testing.T) {
	twoProfiles := `[{"name":"p","endpoints":["http://127.0.0.1/"],"service_mesh":"istio"},{"name":"q","endpoints":["http://127.0.0.1/q"]}]`
	tests := []struct {
		name, data, profile string
		kind                Kind
		result              bool
		configs             int
		summary             string // a part of the summary
		err                 string
	}{
		{"fortio", fortioOne, "", KindFortio, true, 0, "JSON, Fortio result (fortio), converted to an SMP result: p50 1ms p99 1ms, actual_qps 0", ""},
		{"meshery result", `{"name":"n","mesh":"linkerd","runner_results":` + fortioOne + `}`, "", KindMesheryResult, true, 0,
			"JSON, Meshery result (fortio), converted to an SMP result: p50 1ms p99 1ms, actual_qps 0, mesh LINKERD", ""},
		{"meshery profile", "name: p\nendpoints: [http://127.0.0.1/]\nduration: 5s\n", "", KindMesheryProfile, false, 1,
			`YAML, Meshery performance profile "p", converted to an SMP test config: 1 client, 1 endpoint, duration 5s`, ""},
		{"two profiles", twoProfiles, "", KindMesheryProfile, false, 2,
			`JSON, 2 Meshery performance profiles, converted to SMP test configs: "p" (1 client, 1 endpoint, duration 30s, mesh ISTIO); "q" (1 client, 1 endpoint, duration 30s)`, ""},
		{"profile by name", twoProfiles, "q", KindMesheryProfile, false, 1, `profile "q"`, ""},
		{"profile page", `{"page":0,"page_size":25,"total_count":1,"profiles":[{"name":"p","endpoints":["http://127.0.0.1/"]}]}`, "", KindMesheryProfile, false, 1, `profile "p"`, ""},
		{"meshery test file", readExample(t, "meshery-load-test.yaml"), "", KindMeshery, false, 1, "YAML, meshery, 1 client", ""},
		{"legacy result", readExample(t, "legacy-result.yaml"), "", KindLegacyResult, true, 0, "YAML, legacy-result, p50", ""},
		{"smp config", readExample(t, "test-config.yaml"), "", KindConfig, false, 1, "YAML, config, 1 client", ""},
		{"smp result", `{"actual_qps": 10, "latencies_ms": {"p50": 1, "p99": 2}}`, "", KindResult, true, 0, "JSON, result, p50 1ms p99 2ms, actual_qps 10", ""},
		{"profile name for a config", readExample(t, "test-config.yaml"), "x", "", false, 0, "", "in.txt: a profile name (\"x\") was given but the file is not a Meshery profile list"},
		{"unknown profile", twoProfiles, "r", "", false, 0, "", `in.txt: no profile named "r" (have: "p", "q")`},
		{"bad profile", "name: p\nendpoints: [http://127.0.0.1/]\nqps: fast\n", "", "", false, 0, "", "in.txt:3: qps"},
		{"bad profile chosen", `[{"name":"p","endpoints":["http://127.0.0.1/"]},{"name":"q","endpoints":["ftp://x/"]}]`, "q", "", false, 0, "", `[1].endpoints[0]: "ftp://x/": Meshery profiles test HTTP or gRPC endpoints`},
		{"bad fortio", `{"RunType":"HTTP","DurationHistogram":{"Count":2,"Data":[{"Start":0.002,"End":0.001,"Count":2}]}}`, "", "", false, 0, "",
			"in.txt:1: DurationHistogram.Data[0].End: \"0.001\": is below Start 0.002"},
		{"garbage", "::: not yaml {", "", "", false, 0, "", "in.txt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []Option
			if tc.profile != "" {
				opts = append(opts, Profile(tc.profile))
			}
			d, err := Read([]byte(tc.data), "in.txt", opts...)
			if tc.err != "" {
				var errs spec.Errors
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.As(err, &errs) {
					t.Fatalf("error %v (%T), want spec.Errors with %q", err, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Kind != tc.kind || (d.Result != nil) != tc.result || len(d.Configs) != tc.configs {
				t.Errorf("kind %q result %v configs %d", d.Kind, d.Result != nil, len(d.Configs))
			}
			if !strings.Contains(d.Summary(), tc.summary) {
				t.Errorf("summary %q lacks %q", d.Summary(), tc.summary)
			}
		})
	}
}

// TestReadNotes: lossy conversions say so, and results timed without
// correction for coordinated omission are marked.
func TestReadNotes(t *testing.T) {
	withGenerator := func(version, loadGenerator string) string {
		f := strings.Replace(fortioOne, `{"RunType"`, `{"Version":"`+version+`","RunType"`, 1)
		if loadGenerator == "" {
			return f
		}
		return `{"name":"m","runner_results":` + strings.Replace(f, `{"Version"`, `{"load-generator":"`+loadGenerator+`","Version"`, 1) + `}`
	}
	tests := []struct {
		name, data  string
		uncorrected bool
		note        string
	}{
		{"fortio", withGenerator("1.69.1", ""), true, "latency: fortio times each request from its actual send (not corrected for coordinated omission)"},
		{"written by smp", withGenerator("smp 0.4.0", ""), false, "latency: written by smp (corrected)"},
		{"meshery with fortio", withGenerator("1.69.1", "fortio"), true, "not corrected for coordinated omission"},
		{"meshery with wrk2", withGenerator("", "wrk2"), false, "latency: wrk2 times each request from its intended send (corrected"},
		{"meshery with nighthawk", withGenerator("", "nighthawk"), true, "latency: nighthawk times each request from its actual send"},
		{"profile", "name: p\nendpoints: [http://127.0.0.1/a, http://127.0.0.1/b]\n", false, "endpoints: Meshery tests only the first of 2 endpoints"},
		{"profiles", `[{"name":"p","endpoints":["http://127.0.0.1/"],"duration":"1s"},{"name":"q","endpoints":["http://127.0.0.1/"]}]`, false,
			`profile "q": duration: not set in the profile; the config uses 30s`},
		{"legacy", "endpoint_url: http://127.0.0.1/\nclient: {connections: 2, rps: 0.99}\nmetrics: {cpu: 1, mem: 2}\n", false,
			"metrics: 2 legacy metric entries are not part of SMP and were not kept"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Read([]byte(tc.data), "in")
			if err != nil {
				t.Fatal(err)
			}
			if d.Uncorrected != tc.uncorrected || !strings.Contains(strings.Join(d.Notes, "\n"), tc.note) {
				t.Errorf("uncorrected %v, notes %q; want %v and %q", d.Uncorrected, d.Notes, tc.uncorrected, tc.note)
			}
		})
	}
}

// TestReadBadDocuments: every known-bad SMP document fails as package spec
// says it must, with its path and message.
func TestReadBadDocuments(t *testing.T) {
	for _, tc := range testdocs.BadDocuments(spec.MaxFileSize) {
		t.Run(tc.Name, func(t *testing.T) {
			_, err := Read([]byte(tc.Doc), "doc.yaml")
			var errs spec.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %v (%T), want spec.Errors", err, err)
			}
			for _, e := range errs {
				if e.Path == tc.WantPath && strings.Contains(e.Msg, tc.WantMsg) && (tc.WantLine == 0 || e.Line == tc.WantLine) {
					return
				}
			}
			t.Errorf("no error at %q with %q (line %d): %v", tc.WantPath, tc.WantMsg, tc.WantLine, err)
		})
	}
}

func TestOpenErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.json")
	if _, err := Open(missing); err == nil || err.Error() != missing+": cannot read: no such file or directory" {
		t.Errorf("missing file: %v", err)
	}
	big := bytes.Repeat([]byte("#"), spec.MaxFileSize+10)
	if _, err := ReadFrom(bytes.NewReader(big), "stdin"); err == nil || !strings.Contains(err.Error(), "stdin: file is larger than 10 MiB") {
		t.Errorf("large input: %v", err)
	}
	d, err := ReadFrom(strings.NewReader(fortioOne), "stdin")
	if err != nil || d.Kind != KindFortio || d.File != "stdin" {
		t.Errorf("from a reader: %v %+v", err, d)
	}
}

// FuzzOpen: Read never panics; an error is always spec.Errors; what it
// accepts is test configs or a result, never both, that encode as SMP;
// an SMP document's encoding loads back (a converted one may carry what
// a check refuses, such as a Fortio URL of another scheme).
func FuzzOpen(f *testing.F) {
	for _, p := range documents(f) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(fortioOne))
	f.Add([]byte(`{"name":"m","mesh":"istio","runner_results":{"DurationHistogram":{"Count":1,"Min":0.5,"Max":0.5,"Data":[{"Start":0.5,"End":0.5,"Count":1}]},"load-generator":"wrk2"}}`))
	f.Add([]byte(`{"profiles": [{"name": "a", "endpoints": ["http://127.0.0.1/"], "qps": 10}, {"name": "b", "endpoints": ["grpc://127.0.0.1:1/"]}]}`))
	f.Add([]byte("name: p\nendpoints: [http://127.0.0.1/]\nservice_mesh: Linkerd\n"))
	f.Add([]byte(`{"RunType": "GRPC", "runner_results": 3}`))
	shapes, _ := filepath.Glob("testdata/shapes/*")
	for _, p := range shapes {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`[{"runner_results":[` + fortioOne + `,` + fortioOne + `]},{"runner_results":[]},7]`))
	f.Add([]byte(`{"page":1,"total_count":1,"results":[{"name":"x","runner_results":` + fortioOne + `}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Read(data, "fuzz")
		if err != nil {
			var errs spec.Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %T %v is not spec.Errors", err, err)
			}
			return
		}
		_ = d.Summary()
		msgs := []proto.Message{d.Result}
		kind := spec.KindResult
		switch {
		case d.Result == nil && len(d.Configs) > 0:
			msgs, kind = nil, spec.KindConfig
			for _, c := range d.Configs {
				msgs = append(msgs, c)
			}
		case d.Result == nil || len(d.Configs) > 0:
			t.Fatalf("%s: result %v and %d configs", d.Kind, d.Result != nil, len(d.Configs))
		}
		for _, m := range msgs {
			b, err := spec.Encode(m, "yaml")
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if _, err := spec.LoadAs(b, "again", kind); err != nil && d.smp != nil {
				t.Fatalf("an SMP document does not load back: %v\n%s", err, b)
			}
		}
	})
}
