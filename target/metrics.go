package target

import (
	"fmt"
	"math"

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
	arrivalGap                                *prometheus.Desc
	overBudget, inFlightBytes, timeouts       *prometheus.Desc
	evicted, refused                          *prometheus.Desc
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
		overBudget: prometheus.NewDesc("smp_target_over_budget_total",
			"Requests refused because their bodies would exceed the in-flight byte budget (also in smp_target_rejected_total).", []string{"protocol"}, nil),
		inFlightBytes: prometheus.NewDesc("smp_target_in_flight_bytes",
			"Request bytes held now, against the in-flight byte budget.", nil, nil),
		timeouts: prometheus.NewDesc("smp_target_timeouts_total",
			"Connections closed (HTTP/2: streams reset) by a timeout, by kind: header, body, write, idle.", []string{"kind"}, nil),
		evicted: prometheus.NewDesc("smp_target_connections_evicted_total",
			"Connections waiting for a request head, closed to make room for a new one at the connection limit.", nil, nil),
		refused: prometheus.NewDesc("smp_target_connections_refused_total",
			"New connections closed at once at the connection limit, none being evictable.", nil, nil),
		arrivalGap: prometheus.NewDesc("smp_target_arrival_gap_seconds",
			"Gaps between consecutive workload request arrivals on a listener (http: HTTP/1.1 and HTTP/2), since the start or the last POST /_smp/stats/reset; quantile 0 and 1 are the exact minimum and maximum.",
			[]string{"listener"}, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.requests, c.rejected, c.resets, c.dropped, c.inFlight, c.queueLength, c.connections, c.stall, c.arrivalGap, c.overBudget, c.inFlightBytes, c.timeouts, c.evicted, c.refused} {
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
		emit(ch, c.overBudget, prometheus.CounterValue, float64(k.overBudget[p].Load()), p.String())
	}
	for t := timeoutKind(0); t < numTimeoutKinds; t++ {
		emit(ch, c.timeouts, prometheus.CounterValue, float64(k.timeouts[t].Load()), t.String())
	}
	emit(ch, c.inFlightBytes, prometheus.GaugeValue, float64(c.s.budget.inUse()))
	emit(ch, c.evicted, prometheus.CounterValue, float64(c.s.conns.evicted.Load()))
	emit(ch, c.refused, prometheus.CounterValue, float64(c.s.conns.refused.Load()))
	emit(ch, c.dropped, prometheus.CounterValue, float64(k.udpDropped.Load()))
	emit(ch, c.inFlight, prometheus.GaugeValue, float64(k.inFlight.Load()))
	emit(ch, c.queueLength, prometheus.GaugeValue, float64(c.s.adm.queued()))
	emit(ch, c.connections, prometheus.GaugeValue, float64(c.s.conns.len()))
	stalled := 0.0
	if !c.s.stall.deadline().IsZero() {
		stalled = 1
	}
	emit(ch, c.stall, prometheus.GaugeValue, stalled)
	for l, g := range c.s.gaps {
		if g == nil {
			continue
		}
		a := g.read(false)
		q := make(map[float64]float64, 8)
		for i, v := range []float64{a.Min, a.P1, a.P10, a.P50, a.P90, a.P99, a.P999, a.Max} {
			if a.Count == 0 {
				v = math.NaN() // as client_golang's own summaries report no observations
			}
			q[gapQuantiles[i]] = seconds(v)
		}
		if m, err := prometheus.NewConstSummary(c.arrivalGap, uint64(a.Count), seconds(a.Sum), q, listener(l).String()); err == nil {
			ch <- m
		}
	}
}

// seconds converts ArrivalGaps' microseconds (whole nanoseconds) to
// seconds, by way of the integer nanoseconds so that 20529.151 µs reads
// 0.020529151 and not 0.020529151000000002.
func seconds(us float64) float64 { return math.Round(us*1e3) / 1e9 }

// gapQuantiles are the summary quantiles of smp_target_arrival_gap_seconds:
// ArrivalGaps' minimum, percentiles and maximum.
var gapQuantiles = []float64{0, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 1}

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
