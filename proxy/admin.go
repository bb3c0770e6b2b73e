package proxy

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// adminHandler serves GET /_smp/proxy/stats (JSON; POST
// /_smp/proxy/stats/reset returns them and starts afresh, for a benchmark's
// window) and GET /metrics (Prometheus).
func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_smp/proxy/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, s.Stats())
	})
	mux.HandleFunc("POST /_smp/proxy/stats/reset", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, s.ResetStats())
	})
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{s})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// collector turns Stats into Prometheus metrics at scrape time.
type collector struct{ s *Server }

func descs() (req, loc, upErr, fErr, fCost, fLocal, fErrs, overhead *prometheus.Desc) {
	return prometheus.NewDesc("smp_proxy_requests_total", "Requests received.", nil, nil),
		prometheus.NewDesc("smp_proxy_local_replies_total", "Requests answered by a filter.", nil, nil),
		prometheus.NewDesc("smp_proxy_upstream_errors_total", "Requests the upstream failed (502/504).", nil, nil),
		prometheus.NewDesc("smp_proxy_filter_errors_total", "Requests a filter failed (500), over all filters.", nil, nil),
		prometheus.NewDesc("smp_proxy_filter_seconds", "Time spent in a filter per request.", []string{"filter"}, nil),
		prometheus.NewDesc("smp_proxy_filter_local_replies_total", "Requests a filter answered.", []string{"filter"}, nil),
		prometheus.NewDesc("smp_proxy_filter_failures_total", "Requests a filter failed (500), such as WebAssembly traps.", []string{"filter"}, nil),
		prometheus.NewDesc("smp_proxy_overhead_seconds", "Time in the proxy per request, the upstream's round trip excluded.", nil, nil)
}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	a, b, d, e, f, g, h, i := descs()
	for _, x := range []*prometheus.Desc{a, b, d, e, f, g, h, i} {
		ch <- x
	}
}

func summary(desc *prometheus.Desc, cost Cost, labels ...string) prometheus.Metric {
	q := map[float64]float64{0.5: cost.P50Us / 1e6, 0.9: cost.P90Us / 1e6, 0.99: cost.P99Us / 1e6, 0.999: cost.P999Us / 1e6}
	sum := cost.MeanNs * float64(cost.Count) / float64(time.Second)
	return prometheus.MustNewConstSummary(desc, uint64(cost.Count), sum, q, labels...)
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	req, loc, upErr, fErr, fCost, fLocal, fErrs, overhead := descs()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(req, st.Requests)
	counter(loc, st.LocalReplies)
	counter(upErr, st.UpstreamErrors)
	counter(fErr, st.FilterErrors)
	ch <- summary(overhead, st.Overhead)
	for _, f := range st.Filters {
		ch <- summary(fCost, f.Cost, f.Name)
		counter(fLocal, f.LocalReplies, f.Name)
		counter(fErrs, f.Errors, f.Name)
	}
}
