package target

import (
	"context"
	"net/http"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc/metadata"

	targetpb "github.com/smp-project/smp/target/proto"
)

// TestMetrics parses /metrics with the Prometheus text parser and checks
// the counters against the traffic sent.
func TestMetrics(t *testing.T) {
	s := startTarget(t, Config{HTTP: anyPort, GRPC: anyPort, Capacity: 1, Queue: 0})
	c, base := httpClient(t, "http1", s)
	for range 3 {
		get(t, c, base+"/", nil)
	}
	get(t, c, base+"/?status=404", nil)
	h2, h2base := httpClient(t, "h2c", s)
	get(t, h2, h2base+"/?status=201", nil)
	_, g := grpcClient(t, s)
	_, _ = g.Echo(context.Background(), &targetpb.EchoRequest{})
	_, _ = g.Echo(metadata.AppendToOutgoingContext(context.Background(), "x-smp-error", "1"), &targetpb.EchoRequest{})

	resp, err := c.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse exposition: %v", err)
	}
	requests := map[[2]string]float64{}
	for _, m := range families["smp_target_requests_total"].GetMetric() {
		var proto, code string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "protocol":
				proto = l.GetValue()
			case "code":
				code = l.GetValue()
			}
		}
		requests[[2]string{proto, code}] = m.GetCounter().GetValue()
	}
	want := map[[2]string]float64{
		{"http1", "200"}:     3,
		{"http1", "404"}:     1,
		{"http2", "201"}:     1,
		{"grpc", "OK"}:       1,
		{"grpc", "Internal"}: 1,
	}
	for k, v := range want {
		if requests[k] != v {
			t.Errorf("requests%v = %v, want %v (all: %v)", k, requests[k], v, requests)
		}
	}
	for _, name := range []string{"smp_target_in_flight", "smp_target_queue_length", "smp_target_rejected_total", "smp_target_connections", "go_goroutines",
		"smp_target_timeouts_total", "smp_target_in_flight_bytes", "smp_target_over_budget_total", "smp_target_connections_evicted_total", "smp_target_connections_refused_total"} {
		if families[name] == nil {
			t.Errorf("metric %s missing", name)
		}
	}
	// /metrics was not counted as a workload request.
	if st := s.Stats(); st.RequestsTotal != 7 {
		t.Errorf("requests_total %d, want 7", st.RequestsTotal)
	}
}
