package proxy

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/proxy/filter"
)

// stats are the proxy's counters and the per-filter cost histograms.
type stats struct {
	start                                     time.Time
	requests, forwarded, localReplies         atomic.Int64
	upstreamErrors, filterErrors, badRequests atomic.Int64
	overhead                                  costHist
	filters                                   []*filterStats
	errMu                                     sync.Mutex
	lastErr                                   string
}

type filterStats struct {
	name                 string
	f                    filter.Filter
	localReplies, errors atomic.Int64
	cost                 costHist
}

// costHist is a time-in-code histogram. hist records whole microseconds,
// and a native filter takes a fraction of one, so the exact sum of
// nanoseconds is kept beside it for the mean.
type costHist struct {
	mu    sync.Mutex
	h     *hist.Histogram
	sumNs int64
}

func (c *costHist) record(d time.Duration) {
	c.mu.Lock()
	c.h.Record(d)
	c.sumNs += int64(d)
	c.mu.Unlock()
}

func (f *filterStats) record(d time.Duration) { f.cost.record(d) }

func newStats(fs []filter.Filter) *stats {
	s := &stats{start: time.Now(), overhead: costHist{h: hist.New()}}
	for _, f := range fs {
		s.filters = append(s.filters, &filterStats{name: f.Name(), f: f, cost: costHist{h: hist.New()}})
	}
	return s
}

func (s *stats) recordOverhead(d time.Duration) { s.overhead.record(d) }

func (s *stats) setLastError(err error) {
	s.errMu.Lock()
	s.lastErr = err.Error()
	s.errMu.Unlock()
}

// Cost summarises one cost histogram.
type Cost struct {
	Count  int64   `json:"count"`
	MeanNs float64 `json:"mean_ns"`
	P50Us  float64 `json:"p50_us"`
	P90Us  float64 `json:"p90_us"`
	P99Us  float64 `json:"p99_us"`
	P999Us float64 `json:"p999_us"`
	MaxUs  float64 `json:"max_us"`
	// Histogram is the hdr-v2 encoding (microseconds), mergeable.
	Histogram string `json:"histogram,omitempty"`
}

// FilterStats is one filter's part of Stats.
type FilterStats struct {
	Name         string `json:"name"`
	LocalReplies int64  `json:"local_replies"`
	// Errors counts exchanges the filter failed (500): a trapped
	// WebAssembly module.
	Errors int64 `json:"errors"`
	// Cost is the time spent in the filter per request (request,
	// response and done callbacks together).
	Cost Cost `json:"cost"`
	// Extra holds a filter's own counters (a WebAssembly filter's VM
	// restarts, log lines, ...).
	Extra map[string]int64 `json:"extra,omitempty"`
}

// Stats is what GET /_smp/proxy/stats returns.
type Stats struct {
	UptimeS        float64 `json:"uptime_s"`
	Requests       int64   `json:"requests"`
	Forwarded      int64   `json:"forwarded"`
	LocalReplies   int64   `json:"local_replies"`
	UpstreamErrors int64   `json:"upstream_errors"`
	FilterErrors   int64   `json:"filter_errors"`
	BadRequests    int64   `json:"bad_requests"`
	LastError      string  `json:"last_error,omitempty"`
	// Overhead is the time the proxy holds a request minus the upstream's
	// round trip (response body streaming excluded).
	Overhead Cost          `json:"overhead"`
	Filters  []FilterStats `json:"filters"`
}

// ExtraStats is implemented by filters with counters of their own.
type ExtraStats interface {
	Stats() map[string]int64
}

func (c *costHist) summary(reset bool) Cost {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.h
	out := Cost{Count: h.Count()}
	if out.Count > 0 {
		us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
		out.MeanNs = float64(c.sumNs) / float64(out.Count)
		out.P50Us, out.P90Us, out.P99Us = us(h.Percentile(50)), us(h.Percentile(90)), us(h.Percentile(99))
		out.P999Us, out.MaxUs = us(h.Percentile(99.9)), us(h.Max())
		out.Histogram, _ = h.Encode()
	}
	if reset {
		h.Reset()
		c.sumNs = 0
	}
	return out
}

// Stats returns the counters and costs since start (or the last reset).
func (s *Server) Stats() Stats { return s.stats.snapshot(false) }

// ResetStats returns the stats and starts them afresh.
func (s *Server) ResetStats() Stats { return s.stats.snapshot(true) }

func (s *stats) snapshot(reset bool) Stats {
	load := func(a *atomic.Int64) int64 {
		if reset {
			return a.Swap(0)
		}
		return a.Load()
	}
	out := Stats{
		UptimeS: time.Since(s.start).Seconds(), Requests: load(&s.requests), Forwarded: load(&s.forwarded),
		LocalReplies: load(&s.localReplies), UpstreamErrors: load(&s.upstreamErrors),
		FilterErrors: load(&s.filterErrors), BadRequests: load(&s.badRequests),
		Overhead: s.overhead.summary(reset), Filters: []FilterStats{},
	}
	s.errMu.Lock()
	out.LastError = s.lastErr
	s.errMu.Unlock()
	for _, f := range s.filters {
		fs := FilterStats{Name: f.name, LocalReplies: load(&f.localReplies), Errors: load(&f.errors), Cost: f.cost.summary(reset)}
		if e, ok := f.f.(ExtraStats); ok {
			fs.Extra = e.Stats()
		}
		out.Filters = append(out.Filters, fs)
	}
	return out
}
