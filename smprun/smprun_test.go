package smprun

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/target"
	"google.golang.org/protobuf/proto"
)

func ptr[T any](v T) *T { return &v }

func TestApplySettings(t *testing.T) {
	base := &spec.PerformanceTestConfig{
		Name: "from file", Duration: "1m", Labels: map[string]string{"a": "1"},
		Clients: []*spec.PerformanceTestConfig_Client{
			{Connections: 2, Rps: 10, EndpointUrls: []string{"http://a/"}, Headers: map[string]string{"X-A": "a"}},
			{Connections: 3, Rps: 20, EndpointUrls: []string{"http://b/"}},
		},
	}
	tests := []struct {
		name  string
		base  *spec.PerformanceTestConfig
		s     Settings
		check func(t *testing.T, c *spec.PerformanceTestConfig)
	}{
		{"flags only take the defaults", nil, Settings{URLs: []string{"http://127.0.0.1:1/"}}, func(t *testing.T, c *spec.PerformanceTestConfig) {
			cl := c.Clients[0]
			if c.Duration != "10s" || cl.Connections != DefaultConnections || cl.Rps != 1000 || cl.EndpointUrls[0] != "http://127.0.0.1:1/" || c.SmpVersion != SMPVersion {
				t.Errorf("config %v", c)
			}
		}},
		{"every flag", nil, Settings{URLs: []string{"http://x/", "http://y/"}, QPS: ptr(float64(0)), Connections: ptr(4), Streams: ptr(2),
			Duration: ptr(3 * time.Second), Warmup: ptr(time.Second), Timeout: ptr(time.Second), Protocol: ptr("http2"), Method: ptr("PUT"),
			Headers: []string{"X-Test: 1", "Host:  example"}, Body: ptr("hi"), ContentType: ptr("text/plain"), Insecure: ptr(true),
			CACert: ptr("ca.pem"), Labels: map[string]string{"k": "v"}, Name: ptr("n")},
			func(t *testing.T, c *spec.PerformanceTestConfig) {
				cl := c.Clients[0]
				if c.Duration != "3s" || c.Warmup != "1s" || c.Name != "n" || c.Labels["k"] != "v" || cl.Rps != 0 || cl.Connections != 4 ||
					cl.Streams != 2 || cl.Timeout != "1s" || !cl.Http2 || cl.Method != "PUT" || cl.Headers["X-Test"] != "1" ||
					cl.Headers["Host"] != "example" || cl.Body != "hi" || cl.ContentType != "text/plain" || !cl.InsecureSkipVerify ||
					cl.SslCertificate != "ca.pem" || len(cl.EndpointUrls) != 2 {
					t.Errorf("config %v", c)
				}
			}},
		{"a file keeps its values", base, Settings{}, func(t *testing.T, c *spec.PerformanceTestConfig) {
			if c.Duration != "1m" || c.Clients[0].Rps != 10 || c.Clients[1].Connections != 3 {
				t.Errorf("config %v", c)
			}
		}},
		{"flags override every client of a file", base, Settings{QPS: ptr(float64(5)), URLs: []string{"http://c/"}, Headers: []string{"X-B: b"}, Labels: map[string]string{"b": "2"}},
			func(t *testing.T, c *spec.PerformanceTestConfig) {
				for _, cl := range c.Clients {
					if cl.Rps != 5 || cl.EndpointUrls[0] != "http://c/" || cl.Headers["X-B"] != "b" {
						t.Errorf("client %v", cl)
					}
				}
				if c.Clients[0].Headers["X-A"] != "a" || c.Labels["a"] != "1" || c.Labels["b"] != "2" {
					t.Errorf("config %v", c)
				}
				if base.Clients[0].Rps != 10 || base.Labels["b"] != "" {
					t.Error("the base config was modified")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ApplySettings(tt.base, tt.s)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestApplySettingsRejects(t *testing.T) {
	u := []string{"http://a/"}
	tests := []struct {
		name string
		s    Settings
	}{
		{"no target", Settings{}},
		{"negative qps", Settings{URLs: u, QPS: ptr(float64(-1))}},
		{"no connections", Settings{URLs: u, Connections: ptr(0)}},
		{"zero duration", Settings{URLs: u, Duration: ptr(time.Duration(0))}},
		{"negative warm-up", Settings{URLs: u, Warmup: ptr(-time.Second)}},
		{"zero timeout", Settings{URLs: u, Timeout: ptr(time.Duration(0))}},
		{"unknown protocol", Settings{URLs: u, Protocol: ptr("gopher")}},
		{"bad header", Settings{URLs: u, Headers: []string{"no colon"}}},
		{"header injection", Settings{URLs: u, Headers: []string{"X: a\r\nY: b"}}},
		{"body and body file", Settings{URLs: u, Body: ptr("a"), BodyFile: ptr("b")}},
	}
	for _, tt := range tests {
		if _, err := ApplySettings(nil, tt.s); !errors.Is(err, load.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tt.name, err)
		}
	}
}

func TestNewPlan(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "body.json"), []byte(`{"a":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	good := func() *spec.PerformanceTestConfig {
		return &spec.PerformanceTestConfig{Duration: "2s", Warmup: "1s", Clients: []*spec.PerformanceTestConfig_Client{
			{Rps: 100, EndpointUrls: []string{"http://127.0.0.1:1/", "http://127.0.0.1:2/"}, BodyFile: "body.json", Name: "one"},
			{Connections: 2, Streams: 3, Http2: true, EndpointUrls: []string{"http://127.0.0.1:3/"}}}}
	}
	p, err := NewPlan(context.Background(), good(), PlanOptions{BaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	l := p.Load
	if l.Duration != 2*time.Second || l.Warmup != time.Second || len(l.Clients) != 2 {
		t.Fatalf("load config %+v", l)
	}
	c0, c1 := l.Clients[0], l.Clients[1]
	if c0.Name != "one" || c0.Connections != DefaultConnections || len(c0.Endpoints) != 2 || c0.Pacer.String() != "100/s" {
		t.Errorf("client 0 %+v", c0)
	}
	if c1.Name != "client-2" || c1.Connections != 2 || c1.Streams != 3 || c1.Pacer.String() != "closed loop" {
		t.Errorf("client 1 %+v", c1)
	}
	if p0, p1 := c0.Endpoints[0].Driver.Protocol(), c1.Endpoints[0].Driver.Protocol(); p0.Name != "http" || p1.Name != "http2" || p1.Codes != "http" {
		t.Errorf("protocols %v, %v", p0, p1)
	}

	tests := []struct {
		name   string
		modify func(c *spec.PerformanceTestConfig)
	}{
		{"bad duration", func(c *spec.PerformanceTestConfig) { c.Duration = "soon" }},
		{"no clients", func(c *spec.PerformanceTestConfig) { c.Clients = nil }},
		{"missing body file", func(c *spec.PerformanceTestConfig) { c.Clients[0].BodyFile = "nope" }},
		{"ftp", func(c *spec.PerformanceTestConfig) { c.Clients[1].EndpointUrls[0] = "ftp://x/" }},
		{"tcp protocol, http URL", func(c *spec.PerformanceTestConfig) {
			c.Clients[1].Protocol = spec.PerformanceTestConfig_Client_PROTOCOL_TCP
		}},
		{"no endpoints", func(c *spec.PerformanceTestConfig) { c.Clients[0].EndpointUrls = nil }},
		{"bad timeout", func(c *spec.PerformanceTestConfig) { c.Clients[0].Timeout = "-1s" }},
	}
	for _, tt := range tests {
		c := good()
		tt.modify(c)
		if _, err := NewPlan(context.Background(), c, PlanOptions{BaseDir: dir}); !errors.Is(err, load.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tt.name, err)
		}
	}
}

// A real run against the target: the SMP result carries every extension
// and survives encoding and loading back.
func TestExecuteResultRoundTrip(t *testing.T) {
	srv, err := target.Start(context.Background(), target.Config{HTTP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url := "http://" + srv.Addrs().HTTP + "/"
	cfg := &spec.PerformanceTestConfig{Id: "test-1", Duration: "1s", Labels: map[string]string{"env": "ci"},
		Clients: []*spec.PerformanceTestConfig_Client{
			{Name: "ok", Connections: 2, Rps: 200, EndpointUrls: []string{url}},
			{Name: "failing", Connections: 1, Rps: 100, EndpointUrls: []string{url + "?status=503"}},
		}}
	res, out, err := Execute(context.Background(), cfg, PlanOptions{}, ResultOptions{Labels: map[string]string{"run": "1"}, Generator: ThisGenerator()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total.Requests != 300 {
		t.Fatalf("requests %d, want 300", res.Total.Requests)
	}
	if len(out.Clients) != 2 || out.Clients[0].Name != "ok" || out.Clients[1].Errors["http_503"] != 100 || out.Clients[0].Requests.GetTotal() != 200 ||
		out.Clients[1].Histogram.GetErrorData() == "" || len(out.Clients[1].Intervals) == 0 {
		t.Errorf("clients %v", out.Clients)
	}
	// The failing client had no successful request: no latency fields at
	// all (not zeros), its failures timed in error_latencies_ms.
	if f := out.Clients[1]; f.LatenciesMs != nil || f.UncorrectedLatenciesMs != nil || len(f.PercentilesMs) != 0 ||
		f.Histogram.GetData() != "" || f.ErrorLatenciesMs.GetP50() <= 0 {
		t.Errorf("failing client: latencies %v uncorrected %v percentiles %v data %q error latencies %v",
			f.LatenciesMs, f.UncorrectedLatenciesMs, f.PercentilesMs, f.Histogram.GetData(), f.ErrorLatenciesMs)
	}
	// spec.Load takes a document with a top-level "clients" for a test
	// config, so the per-client results are checked above and the round
	// trip is of the rest.
	whole := proto.Clone(out).(*spec.PerformanceTestResult)
	whole.Clients = nil
	for _, format := range []string{"yaml", "json"} {
		b, err := spec.Encode(whole, format)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := spec.Load(b, "result."+format)
		if err != nil {
			t.Fatalf("%s: %v\n%s", format, err, b)
		}
		r := doc.Result
		if doc.Kind != spec.KindResult || r.SmpVersion != SMPVersion || r.TestId != "test-1" || r.Labels["env"] != "ci" || r.Labels["run"] != "1" {
			t.Errorf("%s: header fields %v", format, r)
		}
		if r.Requests.GetTotal() != 300 || r.Requests.GetOk() != 200 || r.Requests.GetErrors() != 100 || r.Errors["http_503"] != 100 ||
			r.StatusCodes[200] != 200 || r.StatusCodes[503] != 100 {
			t.Errorf("%s: counts %v %v %v", format, r.Requests, r.Errors, r.StatusCodes)
		}
		if r.ActualQps < 290 || r.ActualQps > 310 || r.RequestedQps != 300 || r.DurationS < 1 {
			t.Errorf("%s: qps %v requested %v duration %v", format, r.ActualQps, r.RequestedQps, r.DurationS)
		}
		if l := r.LatenciesMs; l.GetP50() <= 0 || l.GetMax() < l.GetP99() || l.GetP99() < l.GetP50() || r.UncorrectedLatenciesMs.GetP50() <= 0 {
			t.Errorf("%s: latencies %v / %v", format, l, r.UncorrectedLatenciesMs)
		}
		if len(r.PercentilesMs) != 7 || r.PercentilesMs[6].Percentile != 99.99 {
			t.Errorf("%s: percentiles %v", format, r.PercentilesMs)
		}
		h, err := hist.Decode(r.Histogram.GetData())
		// The 100 failed responses are not in it: latency is of successful answers.
		if err != nil || h.Count() != 200 || r.Histogram.Encoding != "hdr-v2" || r.Histogram.Unit != "us" {
			t.Errorf("%s: histogram %v (count %d, %v)", format, r.Histogram.GetEncoding(), h.Count(), err)
		}
		if _, err := hist.Decode(r.Histogram.GetLatenessData()); err != nil {
			t.Errorf("%s: lateness histogram: %v", format, err)
		}
		if len(r.Intervals) == 0 || r.Generator.GetName() != "smp" || r.Generator.GetLatenessP99Ms() <= 0 {
			t.Errorf("%s: intervals %d generator %v", format, len(r.Intervals), r.Generator)
		}
		if r.Config.GetId() != "test-1" || len(r.Config.GetClients()) != 2 || r.Partial {
			t.Errorf("%s: config %v partial %v", format, r.Config, r.Partial)
		}
	}
}

func TestExecuteUnreachable(t *testing.T) {
	cfg, err := ApplySettings(nil, Settings{URLs: []string{"http://127.0.0.1:1/"}, Duration: ptr(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = Execute(context.Background(), cfg, PlanOptions{}, ResultOptions{})
	if !errors.Is(err, load.ErrUnreachable) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("err = %v, want ErrUnreachable naming the endpoint", err)
	}
}

func TestProgressLine(t *testing.T) {
	tests := []struct {
		p    load.Progress
		want string
	}{
		{load.Progress{Warmup: true, Elapsed: 1500 * time.Millisecond}, "warming up   1.5s"},
		{load.Progress{Elapsed: 2 * time.Second, Duration: 10 * time.Second, Rate: 1999.5, Requests: 4000, Errors: 3, P99: 1234 * time.Microsecond},
			"  2.0s/10s     1999.5 req/s  4000 requests  3 errors  p99 1.234 ms"},
	}
	for _, tt := range tests {
		if got := ProgressLine(tt.p); got != tt.want {
			t.Errorf("ProgressLine = %q, want %q", got, tt.want)
		}
	}
}

// Failed responses are keyed by the codes the protocol has: HTTP/2's are
// HTTP's; the result's config names the protocol the engine says each
// client spoke, where the config left it to the scheme.
func TestToSMPProtocols(t *testing.T) {
	fig := func(p load.Protocol, code int) load.Figures {
		f := figuresOf("c", 10, time.Millisecond, 0)
		f.Protocol, f.Failures = p, map[int]int64{code: 2}
		return f
	}
	h2, g := fig(load.Protocol{Name: "http2", Codes: "http"}, 503), fig(load.Protocol{Name: "grpc", Codes: "grpc"}, 14)
	r := &load.Result{Span: time.Second, Total: h2, Clients: []load.Figures{h2, g}}
	cfg := &spec.PerformanceTestConfig{Clients: []*spec.PerformanceTestConfig_Client{
		{Http2: true, EndpointUrls: []string{"https://a/"}},
		{Protocol: spec.PerformanceTestConfig_Client_PROTOCOL_GRPC, EndpointUrls: []string{"http://b/"}},
	}}
	out, err := ToSMP(r, cfg, ResultOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Errors["http_503"] != 2 || out.Errors["grpc_14"] != 2 || out.Clients[0].Errors["http_503"] != 2 || out.Clients[1].Errors["grpc_14"] != 2 {
		t.Errorf("errors %v, clients' %v %v", out.Errors, out.Clients[0].Errors, out.Clients[1].Errors)
	}
	c := out.Config.Clients
	if c[0].Protocol != spec.PerformanceTestConfig_Client_PROTOCOL_HTTP || !c[0].Http2 || c[1].Protocol != spec.PerformanceTestConfig_Client_PROTOCOL_GRPC {
		t.Errorf("result config clients %v", c)
	}
	if cfg.Clients[0].Protocol != spec.PerformanceTestConfig_Client_PROTOCOL_INVALID {
		t.Error("the config that ran was modified")
	}
}
