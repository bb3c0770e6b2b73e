package target

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// collector exposes the counters to Prometheus. It reads the atomics at
// scrape time instead of updating client_golang vectors per request: a
// label lookup per request would cost more than the rest of the fast path.
type collector struct {
	s                                         *Server
	requests, rejected, resets, dropped       *prometheus.Desc
	inFlight, queueLength, connections, stall *prometheus.Desc
}

func newCollector(s *Server) *collector {
	return &collector{
		s: s,
		requests: prometheus.NewDesc("smp_target_requests_total",
			"Requests answered, by protocol and code (HTTP status, gRPC code name, ok for echoes); includes rejections, excludes resets.",
			[]string{"protocol", "code"}, nil),
		rejected: prometheus.NewDesc("smp_target_rejected_total",
			"Requests rejected beyond capacity, rate and queue.", []string{"protocol"}, nil),
		resets: prometheus.NewDesc("smp_target_resets_total",
			"Connections reset as an injected error.", []string{"protocol"}, nil),
		dropped: prometheus.NewDesc("smp_target_udp_dropped_total",
			"UDP datagrams that got no echo.", nil, nil),
		inFlight: prometheus.NewDesc("smp_target_in_flight",
			"Requests being served (admitted, not yet answered).", nil, nil),
		queueLength: prometheus.NewDesc("smp_target_queue_length",
			"Requests waiting for capacity or rate.", nil, nil),
		connections: prometheus.NewDesc("smp_target_connections",
			"Open TCP connections over all listeners.", nil, nil),
		stall: prometheus.NewDesc("smp_target_stalled",
			"1 while a stall holds responses back.", nil, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.requests, c.rejected, c.resets, c.dropped, c.inFlight, c.queueLength, c.connections, c.stall} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	k := c.s.counters
	for p := protocol(0); p < numProtocols; p++ {
		for code := range k.byCode[p] {
			if n := k.byCode[p][code].Load(); n > 0 {
				emit(ch, c.requests, prometheus.CounterValue, float64(n), p.String(), codeLabel(p, code))
			}
		}
		emit(ch, c.rejected, prometheus.CounterValue, float64(k.rejected[p].Load()), p.String())
		emit(ch, c.resets, prometheus.CounterValue, float64(k.resets[p].Load()), p.String())
	}
	emit(ch, c.dropped, prometheus.CounterValue, float64(k.udpDropped.Load()))
	emit(ch, c.inFlight, prometheus.GaugeValue, float64(k.inFlight.Load()))
	emit(ch, c.queueLength, prometheus.GaugeValue, float64(c.s.adm.queued()))
	emit(ch, c.connections, prometheus.GaugeValue, float64(c.s.conns.len()))
	stalled := 0.0
	if !c.s.stall.deadline().IsZero() {
		stalled = 1
	}
	emit(ch, c.stall, prometheus.GaugeValue, stalled)
}

// newRegistry builds the Server's own registry: no global registry, so two
// targets in one test process do not share or clash.
func newRegistry(s *Server) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{
		newCollector(s),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("target: register metrics: %w", err)
		}
	}
	return reg, nil
}

// emit sends a constant metric. The descriptors above are static and the
// label counts match, so an error cannot happen; it is dropped rather than
// panicking the scrape.
func emit(ch chan<- prometheus.Metric, d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
	if m, err := prometheus.NewConstMetric(d, t, v, labels...); err == nil {
		ch <- m
	}
}
