package spec

import (
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"
)

// fuzzSeeds adds the shipped examples and test documents as seeds.
func fuzzSeeds(f *testing.F, also ...string) {
	files, _ := filepath.Glob("../examples/*")
	files = append(files, "testdata/full-result.yaml")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	for _, s := range also {
		f.Add([]byte(s))
	}
}

// checkLoad is the property both fuzzers check: Load never panics, and a
// document it accepts encodes to YAML and JSON that load back equal.
func checkLoad(t *testing.T, data []byte) {
	d, err := Load(data, "fuzz")
	if err != nil || d == nil {
		return
	}
	var m proto.Message = d.Config
	kind := KindConfig
	if d.Result != nil {
		m, kind = d.Result, KindResult
	}
	if m == nil {
		return
	}
	for _, format := range []string{"yaml", "json"} {
		b, err := Encode(m, format)
		if err != nil {
			t.Fatalf("encode %s: %v", format, err)
		}
		again, err := LoadAs(b, "again", kind)
		if err != nil {
			t.Fatalf("reload of our own %s failed: %v\n%s", format, err, b)
		}
		var m2 proto.Message = again.Config
		if again.Result != nil {
			m2 = again.Result
		}
		if !proto.Equal(m, m2) {
			t.Fatalf("%s round trip changed the message:\n%v\n%v", format, m, m2)
		}
	}
}

func FuzzLoadYAML(f *testing.F) {
	fuzzSeeds(f, "clients:\n- endpoint_urls: [http://a/]\n  connections: &c 3\n  rps: *c\n", "a: &a [*a]\n")
	f.Fuzz(checkLoad)
}

func FuzzLoadJSON(f *testing.F) {
	fuzzSeeds(f,
		`{"clients":[{"endpoint_urls":["http://127.0.0.1/"],"rps":"10","protocol":"PROTOCOL_HTTP"}],"duration":"1s"}`,
		`{"actual_qps":"NaN","latencies_ms":{"p50":1e308},"runs":[{"runs":[{}]}]}`,
		`{"test":{"clients":[]},"mesh":{"type":3}}`)
	f.Fuzz(checkLoad)
}
