// Package livemetrics serves the figures of a running test as Prometheus
// metrics: requests by variant and client, errors by reason, the corrected
// latency as a histogram, the requested and actual rate, and whether a
// run is warming up. It is fed the engine's progress snapshots (one per
// interval), so a scrape costs the run nothing on its hot path.
package livemetrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/load"
)

// Buckets are the latency histogram's upper bounds in seconds: 50 µs to
// 10 s.
var Buckets = []float64{
	50e-6, 100e-6, 250e-6, 500e-6,
	1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3,
	1, 2.5, 5, 10,
}

// Metrics holds the latest figures of every variant and exports them to
// its own registry. The zero value is not usable; use New.
type Metrics struct {
	mu       sync.Mutex
	variants map[string]*variant
	reg      *prometheus.Registry
}

// variant is one variant's figures: the sums of its finished runs and the
// latest snapshot of the current one.
type variant struct {
	run     int
	cur     load.Progress
	doneReq map[string]int64 // by client
	doneErr map[string]int64 // by reason
	doneLat *hist.Histogram
}

var (
	descRequests = prometheus.NewDesc("smp_requests_total",
		"Requests sent and completed in the measured window, by variant and client.", []string{"variant", "client"}, nil)
	descErrors = prometheus.NewDesc("smp_errors_total",
		"Failed requests in the measured window, by variant and reason.", []string{"variant", "reason"}, nil)
	descLatency = prometheus.NewDesc("smp_latency_seconds",
		"Corrected latency (from each request's due time), by variant.", []string{"variant"}, nil)
	descRequested = prometheus.NewDesc("smp_requested_rate",
		"Requested rate in requests per second (0 for a closed loop), by variant.", []string{"variant"}, nil)
	descActual = prometheus.NewDesc("smp_actual_rate",
		"Actual rate of the last interval in requests per second, by variant.", []string{"variant"}, nil)
	descWarmup = prometheus.NewDesc("smp_warmup",
		"1 while the variant's run is in its warm-up, else 0.", []string{"variant"}, nil)
	descRun = prometheus.NewDesc("smp_run",
		"The variant's current run (1-based).", []string{"variant"}, nil)
)

// New returns empty metrics with their own registry.
func New() *Metrics {
	m := &Metrics{variants: map[string]*variant{}, reg: prometheus.NewRegistry()}
	m.reg.MustRegister(m)
	return m
}

// Registry is the registry the metrics are exported by.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Observe takes a progress snapshot of run (1-based) of a variant ("" for
// a series of one). A snapshot of a new run folds the last one of the
// previous run into the variant's totals, so counters never go down.
func (m *Metrics) Observe(variantName string, run int, p load.Progress) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.variants[variantName]
	if v == nil {
		v = &variant{run: run, doneReq: map[string]int64{}, doneErr: map[string]int64{}, doneLat: hist.New()}
		m.variants[variantName] = v
	}
	if run != v.run {
		for _, c := range v.cur.Clients {
			v.doneReq[c.Name] += c.Requests
		}
		for r, n := range v.cur.ErrorReasons {
			v.doneErr[r] += n
		}
		if v.cur.Latency != nil {
			_ = v.doneLat.Merge(v.cur.Latency) // same geometry: cannot fail
		}
		v.run, v.cur = run, load.Progress{}
	}
	if p.Warmup {
		// A warm-up snapshot carries no figures: keep the rates and
		// counts, only the flag changes.
		v.cur.Warmup = true
		return
	}
	v.cur = p
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRequests, descErrors, descLatency, descRequested, descActual, descWarmup, descRun} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, v := range m.variants {
		req := copyMap(v.doneReq)
		for _, c := range v.cur.Clients {
			req[c.Name] += c.Requests
		}
		for _, c := range sortedKeys(req) {
			ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(req[c]), name, c)
		}
		errs := copyMap(v.doneErr)
		for r, n := range v.cur.ErrorReasons {
			errs[r] += n
		}
		for _, r := range sortedKeys(errs) {
			ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(errs[r]), name, r)
		}
		lat := v.doneLat
		if v.cur.Latency != nil && v.cur.Latency.Count() > 0 {
			lat = lat.Clone()
			_ = lat.Merge(v.cur.Latency)
		}
		count, sum, buckets := histogram(lat)
		ch <- prometheus.MustNewConstHistogram(descLatency, count, sum, buckets, name)
		ch <- prometheus.MustNewConstMetric(descRequested, prometheus.GaugeValue, v.cur.RequestedRate, name)
		ch <- prometheus.MustNewConstMetric(descActual, prometheus.GaugeValue, v.cur.Rate, name)
		warm := 0.0
		if v.cur.Warmup {
			warm = 1
		}
		ch <- prometheus.MustNewConstMetric(descWarmup, prometheus.GaugeValue, warm, name)
		ch <- prometheus.MustNewConstMetric(descRun, prometheus.GaugeValue, float64(v.run), name)
	}
}

// histogram turns h into Prometheus's cumulative buckets over Buckets. A
// bucket of h is counted under the first bound at or above its upper end.
func histogram(h *hist.Histogram) (count uint64, sum float64, buckets map[float64]uint64) {
	buckets = make(map[float64]uint64, len(Buckets))
	for _, b := range Buckets {
		buckets[b] = 0
	}
	n := h.Count()
	if n == 0 {
		return 0, 0, buckets
	}
	for _, b := range h.Buckets() {
		to := b.To.Seconds()
		i := sort.SearchFloat64s(Buckets, to)
		for ; i < len(Buckets); i++ {
			buckets[Buckets[i]] += uint64(b.Count)
		}
	}
	return uint64(n), h.Mean().Seconds() * float64(n), buckets
}

func copyMap(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func sortedKeys(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Server serves Metrics at /metrics over HTTP.
type Server struct {
	*Metrics
	ln  net.Listener
	srv *http.Server
	err chan error
}

// Start listens on addr (host:port; port 0 picks one) and serves new
// metrics at /metrics until Close or until ctx is done.
func Start(ctx context.Context, addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	m := New()
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	s := &Server{Metrics: m, ln: ln, err: make(chan error, 1),
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() { s.err <- s.srv.Serve(ln) }()
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.err:
		}
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the address of the metrics page.
func (s *Server) URL() string { return "http://" + s.Addr() + "/metrics" }

// Close stops the server.
func (s *Server) Close() error {
	err := s.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
