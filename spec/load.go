package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize is the largest document Load accepts: SMP documents are
// small, and a larger file is almost surely the wrong file.
const MaxFileSize = 10 << 20

// Kind is what a document holds, as detected from its top-level fields.
type Kind string

// The kinds of document Load understands.
const (
	KindConfig       Kind = "config"        // a PerformanceTestConfig
	KindMeshery      Kind = "meshery"       // Meshery's {test: config, mesh: ServiceMesh}
	KindResult       Kind = "result"        // a PerformanceTestResult
	KindLegacyResult Kind = "legacy-result" // the flat early result shape
)

// Document is a loaded SMP document converted to the current messages.
type Document struct {
	File   string
	Format string // "yaml" or "json"
	Kind   Kind
	// Config is set for configs and Meshery files, and for results that
	// carry the config they ran.
	Config *PerformanceTestConfig
	Mesh   *ServiceMesh
	Result *PerformanceTestResult
	// Notes are things understood but not kept, for the user to know.
	Notes []string

	// present holds the field paths the document set explicitly, so that
	// validation can tell "connections: 0" from no connections field.
	present map[string]bool
	// prefix is the path of the config inside the document ("test" for
	// Meshery files), so that error paths point where the user looks.
	prefix string
}

// LoadFile reads, converts and validates one document. The error, when not
// nil, is an Errors listing every problem found, each with the file name.
func LoadFile(path string) (*Document, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("cannot read: %v", errors.Unwrap(err))}}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("cannot read: %v", err)}}
	}
	return Load(data, path)
}

// Load converts and validates one document held in data; file names it in
// errors.
func Load(data []byte, file string) (*Document, error) {
	return LoadAs(data, file, "")
}

// LoadAs is Load with the kind of document fixed instead of detected (""
// detects). Use it where only one kind makes sense, such as results for a
// comparison: a document with few fields can look like either.
func LoadAs(data []byte, file string, kind Kind) (*Document, error) {
	doc, err := decode(data, file, kind)
	if err != nil {
		return doc, err
	}
	return doc, Validate(doc)
}

func decode(data []byte, file string, kind Kind) (*Document, error) {
	fail := func(line int, msg string) (*Document, error) {
		return nil, Errors{{File: file, Line: line, Msg: msg}}
	}
	if len(data) > MaxFileSize {
		return fail(0, fmt.Sprintf("file is larger than %d MiB; an SMP document is a few KiB", MaxFileSize>>20))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return fail(0, "file is empty; expected an SMP test config or result")
	}
	doc := &Document{File: file, Format: "yaml", present: map[string]bool{}}
	if t := bytes.TrimSpace(data); t[0] == '{' || t[0] == '[' {
		doc.Format = "json"
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if err == io.EOF {
			return fail(0, "file holds no document (only comments?); expected an SMP test config or result")
		}
		line, msg := yamlErrorLine(err)
		return fail(line, "malformed "+strings.ToUpper(doc.Format)+": "+msg)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return fail(extra.Line, "file holds several YAML documents; put one in each file")
	}
	top := &root
	if top.Kind == yaml.DocumentNode && len(top.Content) == 1 {
		top = top.Content[0]
	}
	if top.Kind != yaml.MappingNode {
		return fail(top.Line, "expected a mapping of fields at the top level, found "+kindName(top))
	}
	d := &decoder{file: file, present: doc.present}
	doc.Kind = kind
	if kind == "" {
		doc.Kind = detect(top)
	}
	switch doc.Kind {
	case KindMeshery:
		decodeMeshery(d, top, doc)
	case KindLegacyResult:
		decodeLegacyResult(d, top, doc)
	case KindResult:
		doc.Result = &PerformanceTestResult{}
		d.message(top, doc.Result.ProtoReflect(), "", 0)
		if doc.Result.GetConfig() != nil {
			doc.Config = doc.Result.GetConfig()
			doc.prefix = "config"
		}
		doc.Mesh = doc.Result.GetMesh()
	default:
		doc.Config = &PerformanceTestConfig{}
		d.message(top, doc.Config.ProtoReflect(), "", 0)
		doc.Mesh = doc.Config.GetMesh()
	}
	return doc, d.errs.err()
}

// resultOnly are top-level fields only a result has.
var resultOnly = []string{"latencies_ms", "actual_qps", "actual_QPS", "start_time", "end_time", "test_id", "testId",
	"details_uri", "mesh_config_id", "env_id", "requests", "runs", "histogram", "percentiles_ms", "intervals"}

func detect(top *yaml.Node) Kind {
	keys := map[string]bool{}
	for i := 0; i+1 < len(top.Content); i += 2 {
		keys[top.Content[i].Value] = true
	}
	switch {
	case keys["test"]:
		return KindMeshery
	case keys["client"] || keys["env"] || (keys["endpoint_url"] && !keys["clients"]):
		return KindLegacyResult
	}
	// Checked before "clients": a result of a run with several clients
	// carries their figures under "clients" too.
	for _, k := range resultOnly {
		if keys[k] {
			return KindResult
		}
	}
	return KindConfig
}

// decodeMeshery reads Meshery's wrapper, used by `mesheryctl perf apply -f`
// and the SMP GitHub action: {test: PerformanceTestConfig, mesh: ServiceMesh}.
func decodeMeshery(d *decoder, top *yaml.Node, doc *Document) {
	doc.Config = &PerformanceTestConfig{}
	doc.prefix = "test"
	for i := 0; i+1 < len(top.Content); i += 2 {
		kn, vn := top.Content[i], top.Content[i+1]
		switch kn.Value {
		case "test":
			d.message(vn, doc.Config.ProtoReflect(), "test", 0)
		case "mesh":
			doc.Mesh = &ServiceMesh{}
			d.message(vn, doc.Mesh.ProtoReflect(), "mesh", 0)
		default:
			msg := fmt.Sprintf("unknown field %q in a Meshery test file", kn.Value)
			if s := suggest(kn.Value, []string{"test", "mesh"}); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			d.fail(kn, kn.Value, "", msg, "test, mesh")
		}
	}
	if doc.Mesh != nil && doc.Config.Mesh == nil {
		doc.Config.Mesh = doc.Mesh
	}
}

// decodeLegacyResult reads the flat result shape of early SMP tooling:
//
//	start_time, end_time, exp_uuid, endpoint_url,
//	env: {kubernetes}, client: {connections, rps, latencies_ms}, metrics: {}
//
// client.rps there is the rate achieved (a fraction such as 0.99999), so it
// becomes actual_qps.
func decodeLegacyResult(d *decoder, top *yaml.Node, doc *Document) {
	res := &PerformanceTestResult{}
	doc.Result = res
	cfg := &PerformanceTestConfig{Clients: []*PerformanceTestConfig_Client{{}}}
	client := cfg.Clients[0]
	rm := res.ProtoReflect()
	rfields := rm.Descriptor().Fields()
	for i := 0; i+1 < len(top.Content); i += 2 {
		kn, vn := top.Content[i], top.Content[i+1]
		switch k := kn.Value; k {
		case "start_time", "end_time", "smp_version", "smps_version", "id", "labels", "test_id", "testId":
			d.field(vn, rm, fieldByName(rm.Descriptor(), k), k, 0)
		case "exp_uuid":
			res.MeshConfig = &ServiceMeshConfig{}
			d.field(vn, res.MeshConfig.ProtoReflect(), res.MeshConfig.ProtoReflect().Descriptor().Fields().ByName("exp_uuid"), k, 0)
		case "endpoint_url":
			cm := client.ProtoReflect()
			d.field(vn, cm, cm.Descriptor().Fields().ByName("endpoint_urls"), k, 0)
		case "env":
			env := &EnvironmentConfig{}
			res.Environment = env
			legacyMapping(d, vn, k, map[string]func(*yaml.Node, string){
				"kubernetes": func(n *yaml.Node, p string) {
					d.field(n, env.ProtoReflect(), env.ProtoReflect().Descriptor().Fields().ByName("kubernetes_version"), p, 0)
				},
			})
		case "client":
			cm := client.ProtoReflect()
			legacyMapping(d, vn, k, map[string]func(*yaml.Node, string){
				"connections": func(n *yaml.Node, p string) {
					d.field(n, cm, cm.Descriptor().Fields().ByName("connections"), p, 0)
				},
				"rps": func(n *yaml.Node, p string) {
					d.field(n, rm, rfields.ByName("actual_qps"), p, 0)
				},
				"latencies_ms": func(n *yaml.Node, p string) {
					d.field(n, rm, rfields.ByName("latencies_ms"), p, 0)
				},
			})
		case "metrics":
			if n, ok := d.resolve(vn); ok && n.Kind == yaml.MappingNode && len(n.Content) > 0 {
				doc.Notes = append(doc.Notes, fmt.Sprintf("metrics: %d legacy metric entries are not part of SMP and were not kept", len(n.Content)/2))
			}
		default:
			allowed := []string{"start_time", "end_time", "exp_uuid", "endpoint_url", "env", "client", "metrics", "smp_version", "id", "labels", "test_id"}
			msg := fmt.Sprintf("unknown field %q in a legacy result", k)
			if s := suggest(k, allowed); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			sort.Strings(allowed)
			d.fail(kn, k, "", msg, "")
		}
	}
	res.Config = cfg
	doc.Config = cfg
	doc.prefix = "config"
}

// legacyMapping walks a mapping whose keys are handled one by one.
func legacyMapping(d *decoder, n *yaml.Node, path string, handlers map[string]func(*yaml.Node, string)) {
	n, ok := d.resolve(n)
	if !ok || isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, scalarValue(n), "expected a mapping, found "+kindName(n), "")
		return
	}
	names := make([]string, 0, len(handlers))
	for k := range handlers {
		names = append(names, k)
	}
	sort.Strings(names)
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		h, ok := handlers[kn.Value]
		if !ok {
			msg := fmt.Sprintf("unknown field %q", kn.Value)
			if s := suggest(kn.Value, names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			d.fail(kn, join(path, kn.Value), "", msg, strings.Join(names, ", "))
			continue
		}
		h(vn, join(path, kn.Value))
	}
}

// yamlErrorLine takes the line number out of a yaml.v3 error
// ("yaml: line 3: did not find expected key") so that it lands in
// FieldError.Line like every other position.
func yamlErrorLine(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr == nil {
		if i := strings.Index(msg, ": "); i >= 0 {
			return line, msg[i+2:]
		}
	}
	return 0, msg
}
