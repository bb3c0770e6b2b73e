package spec

import (
	"bytes"
	"math"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// Wire bytes built by hand with upstream SMP v0.6.1's field types
// (protos/service_mesh_performance.proto, protos/metadata.proto) decode
// into our messages with the same values and nothing left unknown, and our
// encoding of those values gives back the same bytes.

// varintField appends field num as a varint of an int32 value, which proto
// sign-extends to 64 bits (as upstream's int32 fields are written).
func varintField(b []byte, num protowire.Number, v int32) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(int64(v)))
}

func bytesField(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func TestUpstreamWireMeshPolicy(t *testing.T) {
	// MeshPolicy {count 3, cpu_mcores 250, mem_mb 512, rps 1000, cache_hit_rate 87}:
	// upstream's cache_hit_rate is an int32, a varint on the wire.
	var wire []byte
	wire = varintField(wire, 1, 3)
	wire = varintField(wire, 2, 250)
	wire = varintField(wire, 3, 512)
	wire = varintField(wire, 4, 1000)
	wire = varintField(wire, 5, 87)
	var mp ServiceMeshConfig_MeshPolicy
	if err := proto.Unmarshal(wire, &mp); err != nil {
		t.Fatal(err)
	}
	if mp.GetCount() != 3 || mp.GetCpuMcores() != 250 || mp.GetMemMb() != 512 || mp.GetRps() != 1000 || mp.GetCacheHitRate() != 87 {
		t.Errorf("decoded %v", &mp)
	}
	checkNoUnknown(t, &mp)
	wireRoundTrip(t, &mp, wire)

	// The same inside a ServiceMeshConfig (field 7), with application
	// metadata (field 19) whose application_protocol (9) is PROTOCOL_HTTPS = 2.
	var app []byte
	app = bytesField(app, 1, []byte("bookinfo"))
	app = varintField(app, 9, 2)
	var cfg []byte
	cfg = bytesField(cfg, 1, []byte("v0.6.1"))
	cfg = bytesField(cfg, 7, wire)
	cfg = varintField(cfg, 12, 2) // proxy_concurrency
	cfg = bytesField(cfg, 19, app)
	var mc ServiceMeshConfig
	if err := proto.Unmarshal(cfg, &mc); err != nil {
		t.Fatal(err)
	}
	if mc.GetMeshPolicy().GetCacheHitRate() != 87 || mc.GetProxyConcurrency() != 2 ||
		mc.GetApplicationMetadata().GetApplicationProtocol() != ApplicationMetadata_PROTOCOL_HTTPS ||
		mc.GetApplicationMetadata().GetApplicationName() != "bookinfo" {
		t.Errorf("decoded %v", &mc)
	}
	if got := ApplicationMetadata_PROTOCOL_HTTPS.String(); got != "PROTOCOL_HTTPS" {
		t.Errorf("enum name %q, upstream's is PROTOCOL_HTTPS", got)
	}
	checkNoUnknown(t, &mc)
	checkNoUnknown(t, mc.GetMeshPolicy())
	checkNoUnknown(t, mc.GetApplicationMetadata())
	wireRoundTrip(t, &mc, cfg)
}

func TestUpstreamWireIndividualWorkload(t *testing.T) {
	for _, memMb := range []int32{768, 0, -1, math.MaxInt32} {
		// IndividualWorkload {name, count 2, cpu_mcores 300, mem_mb}: upstream's
		// mem_mb is an int32.
		var wire []byte
		wire = bytesField(wire, 1, []byte("productpage"))
		wire = varintField(wire, 2, 2)
		wire = varintField(wire, 3, 300)
		if memMb != 0 { // proto3 writes no zero
			wire = varintField(wire, 4, memMb)
		}
		var w EnvironmentConfig_IndividualWorkload
		if err := proto.Unmarshal(wire, &w); err != nil {
			t.Fatal(err)
		}
		if w.GetName() != "productpage" || w.GetCount() != 2 || w.GetCpuMcores() != 300 || w.GetMemMb() != memMb {
			t.Errorf("mem_mb %d: decoded %v", memMb, &w)
		}
		checkNoUnknown(t, &w)
		wireRoundTrip(t, &w, wire)

		// In an EnvironmentConfig (field 6), beside a node (5) whose mem_mb is
		// an int64 upstream too.
		var node []byte
		node = bytesField(node, 1, []byte("e2-standard-4"))
		node = varintField(node, 2, 4)
		node = protowire.AppendTag(node, 3, protowire.VarintType)
		node = protowire.AppendVarint(node, 1<<34)
		var env []byte
		env = bytesField(env, 4, []byte("1.29"))
		env = bytesField(env, 5, node)
		env = bytesField(env, 6, wire)
		var ec EnvironmentConfig
		if err := proto.Unmarshal(env, &ec); err != nil {
			t.Fatal(err)
		}
		if len(ec.GetIndividualWorkloads()) != 1 || ec.GetIndividualWorkloads()[0].GetMemMb() != memMb ||
			len(ec.GetNodes()) != 1 || ec.GetNodes()[0].GetMemMb() != 1<<34 || ec.GetKubernetesVersion() != "1.29" {
			t.Errorf("decoded %v", &ec)
		}
		checkNoUnknown(t, &ec)
		wireRoundTrip(t, &ec, env)
	}
}

// A test config's client protocol as upstream writes it: PROTOCOL_GRPC = 4.
func TestUpstreamWireClient(t *testing.T) {
	var c []byte
	c = bytesField(c, 2, []byte("fortio"))
	c = varintField(c, 3, 4)
	c = varintField(c, 4, 8)
	c = protowire.AppendTag(c, 5, protowire.VarintType)
	c = protowire.AppendVarint(c, 500)
	c = bytesField(c, 10, []byte("grpc://svc:9000"))
	var cfg []byte
	cfg = bytesField(cfg, 1, []byte("v0.6.1"))
	cfg = bytesField(cfg, 5, c)
	cfg = bytesField(cfg, 6, []byte("30s"))
	var tc PerformanceTestConfig
	if err := proto.Unmarshal(cfg, &tc); err != nil {
		t.Fatal(err)
	}
	cl := tc.GetClients()
	if len(cl) != 1 || cl[0].GetProtocol() != PerformanceTestConfig_Client_PROTOCOL_GRPC || cl[0].GetRps() != 500 ||
		cl[0].GetConnections() != 8 || cl[0].GetEndpointUrls()[0] != "grpc://svc:9000" || tc.GetDuration() != "30s" {
		t.Errorf("decoded %v", &tc)
	}
	checkNoUnknown(t, &tc)
	wireRoundTrip(t, &tc, cfg)
}

// Documents may name the application protocol as upstream does
// (PROTOCOL_HTTPS) or as smp did before (HTTPS), in any case, or by number.
func TestLoadApplicationProtocolNames(t *testing.T) {
	for _, name := range []string{"PROTOCOL_HTTPS", "HTTPS", "https", "protocol_https", "2"} {
		doc := "smp_version: v0.6.1\nactual_qps: 10\nlatencies_ms: {p50: 1}\n" +
			"mesh_config:\n  mesh_policy: {cache_hit_rate: 87}\n  application_metadata:\n    application_protocol: " + name + "\n" +
			"environment:\n  individual_workloads: [{name: productpage, mem_mb: 768}]\n"
		d, err := LoadAs([]byte(doc), "r.yaml", KindResult)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		mc := d.Result.GetMeshConfig()
		if mc.GetApplicationMetadata().GetApplicationProtocol() != ApplicationMetadata_PROTOCOL_HTTPS ||
			mc.GetMeshPolicy().GetCacheHitRate() != 87 || d.Result.GetEnvironment().GetIndividualWorkloads()[0].GetMemMb() != 768 {
			t.Errorf("%s: loaded %v", name, mc)
		}
	}
	for _, name := range []string{"PROTOCOL_HTTP", "HTTP", "http"} {
		doc := "smp_version: v0.6.1\nactual_qps: 10\nlatencies_ms: {p50: 1}\nmesh_config: {application_metadata: {application_protocol: " + name + "}}\n"
		d, err := LoadAs([]byte(doc), "r.yaml", KindResult)
		if err != nil || d.Result.GetMeshConfig().GetApplicationMetadata().GetApplicationProtocol() != ApplicationMetadata_PROTOCOL_HTTP {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A fractional cache_hit_rate (smp wrote a double before) is refused
	// with the field's path, not truncated.
	doc := "smp_version: v0.6.1\nactual_qps: 10\nlatencies_ms: {p50: 1}\nmesh_config: {mesh_policy: {cache_hit_rate: 0.87}}\n"
	_, err := LoadAs([]byte(doc), "r.yaml", KindResult)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("mesh_config.mesh_policy.cache_hit_rate")) {
		t.Errorf("fractional cache_hit_rate: %v", err)
	}
}

func checkNoUnknown(t *testing.T, m proto.Message) {
	t.Helper()
	if u := m.ProtoReflect().GetUnknown(); len(u) != 0 {
		t.Errorf("%T kept %d bytes as unknown fields: a field type differs from upstream", m, len(u))
	}
}

// wireRoundTrip checks that our encoding of the decoded message is upstream's
// bytes (fields in number order, as both write them).
func wireRoundTrip(t *testing.T, m proto.Message, want []byte) {
	t.Helper()
	got, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%T encodes as %x, upstream's bytes are %x", m, got, want)
	}
}
