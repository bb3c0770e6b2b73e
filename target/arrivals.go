package target

import (
	"math"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/smp-project/smp/hist"
)

// listener indexes the per-listener arrival-gap recorders. HTTP/1.1 and
// HTTP/2 share the HTTP listener and so one recorder.
type listener uint8

const (
	listenHTTP listener = iota
	listenGRPC
	listenTCP
	listenUDP
	numListeners
)

func (l listener) String() string {
	return [...]string{"http", "grpc", "tcp", "udp"}[l]
}

// The geometry of an arrival-gap histogram: nanoseconds, 1 ns to 1 h, 3
// significant digits. Not hist's microseconds: the gaps worth looking at
// are 10 to 500 µs, where whole microseconds would round a 10 µs gap by up
// to 5%; in nanoseconds every value keeps its 0.1% (below 2 µs it is
// exact). These histograms are never merged with smp's latency histograms,
// which is what hist's one geometry is for. The price is size: 270 KB per
// histogram instead of 190 KB.
const (
	gapLowest  int64 = 1
	gapHighest int64 = int64(time.Hour)
	gapDigits        = 3
)

func newGapHist() *hdr.Histogram { return hdr.New(gapLowest, gapHighest, gapDigits) }

// monoEpoch anchors monoNow: time.Since of a time with a monotonic reading
// reads only the runtime's monotonic clock, cheaper than time.Now.
var monoEpoch = time.Now()

// monoNow returns monotonic nanoseconds since monoEpoch.
func monoNow() int64 { return int64(time.Since(monoEpoch)) }

// gapRecorder records the gaps between consecutive request arrivals on one
// listener: how evenly a load generator spaces its requests, seen from the
// server.
//
// Arrivals come from every connection at once, and "consecutive" is over
// all of them, so one lock orders them. The clock is read before the lock,
// to keep the critical section short (a histogram increment and a few
// compares) and the timestamp free of any wait for the lock; an arrival
// that reaches the lock after a later-timed one counts as simultaneous with
// it (a gap of 0), so gaps are never negative and still add up to the time
// from the first arrival to the last. Readers swap the live histogram for an
// empty spare under the lock, then merge it into a running total outside
// it, so a scrape does not hold arrivals up for a percentile scan.
type gapRecorder struct {
	_  [64]byte // keeps the hot fields off a neighbour's cache line
	mu sync.Mutex
	// Since the last reset: whether an arrival was seen, the first and last
	// arrivals (monoNow), the number of gaps, the smallest and largest.
	seen        bool
	first, last int64
	n           int64
	min, max    int64
	h           *hdr.Histogram // gaps since the last read
	_           [64]byte

	readMu       sync.Mutex     // serialises readers
	total, spare *hdr.Histogram // allocated at the first read
}

func newGapRecorder() *gapRecorder { return &gapRecorder{h: newGapHist()} }

// arrive records one arrival. It is a no-op on a nil recorder (a listener
// that is off).
func (g *gapRecorder) arrive() {
	if g == nil {
		return
	}
	now := monoNow()
	g.mu.Lock()
	if g.seen {
		now = max(now, g.last) // timed before a racing arrival that locked first
		gap := now - g.last
		if g.n == 0 || gap < g.min {
			g.min = gap
		}
		if gap > g.max {
			g.max = gap
		}
		g.n++
		// Cannot fail: 0 <= gap <= gapHighest.
		_ = g.h.RecordValue(min(gap, gapHighest))
	} else {
		g.seen, g.first = true, now
	}
	g.last = now
	g.mu.Unlock()
}

// read returns the gaps recorded since the last reset; with reset it also
// empties the recorder, so that the next arrival starts a new series (and
// the gap from the last arrival before the reset is not counted).
func (g *gapRecorder) read(reset bool) ArrivalGaps {
	g.readMu.Lock()
	defer g.readMu.Unlock()
	if g.total == nil {
		g.total, g.spare = newGapHist(), newGapHist()
	}
	g.mu.Lock()
	h := g.h
	g.h = g.spare
	n, sum, lo, hi := g.n, g.last-g.first, g.min, g.max
	if reset {
		g.seen, g.first, g.last, g.n, g.min, g.max = false, 0, 0, 0, 0, 0
	}
	g.mu.Unlock()
	if h.TotalCount() > 0 { // Merge and Reset walk every counter
		// Same geometry: nothing can be dropped.
		_ = g.total.Merge(h)
		h.Reset()
	}
	g.spare = h
	a := summarize(g.total, n, sum, lo, hi)
	if reset && g.total.TotalCount() > 0 {
		g.total.Reset()
	}
	return a
}

// gapPercentiles are the percentiles of ArrivalGaps, in field order.
var gapPercentiles = []float64{1, 10, 50, 90, 99, 99.9}

// ArrivalGaps describes the gaps between consecutive request arrivals on one
// listener since the target started or since the last reset. Times are in
// microseconds, with nanosecond resolution; percentiles are HdrHistogram's
// (within 0.1%), Min, Max, Mean and Sum are exact. Count is the number of
// gaps, one less than the number of arrivals; Sum is their total, the time
// from the first arrival to the last. Every field is 0 while Count is.
type ArrivalGaps struct {
	Count  int64   `json:"count"`
	Sum    float64 `json:"sum"`
	Min    float64 `json:"min"`
	P1     float64 `json:"p1"`
	P10    float64 `json:"p10"`
	P50    float64 `json:"p50"`
	P90    float64 `json:"p90"`
	P99    float64 `json:"p99"`
	P999   float64 `json:"p999"`
	Max    float64 `json:"max"`
	Mean   float64 `json:"mean"`
	StdDev float64 `json:"stddev"`
}

// summarize builds ArrivalGaps from a histogram of nanoseconds and the
// exact count, sum, minimum and maximum.
func summarize(h *hdr.Histogram, n, sum, lo, hi int64) ArrivalGaps {
	if n == 0 {
		return ArrivalGaps{}
	}
	us := func(ns float64) float64 { return math.Round(ns) / 1e3 }
	// Nearest rank, as everywhere in smp (hist.Rank): hdrhistogram-go takes
	// rank round(p·N), so it is asked for the percentile that lands on it.
	ps := make([]float64, len(gapPercentiles))
	for i, q := range gapPercentiles {
		ps[i] = 100 * float64(hist.Rank(q, h.TotalCount())) / float64(h.TotalCount())
	}
	p := h.ValueAtPercentilesSlice(ps)
	// A percentile is the highest value equivalent to the one at its rank;
	// it cannot exceed what was recorded.
	for i := range p {
		p[i] = max(min(p[i], hi), lo)
	}
	return ArrivalGaps{
		Count:  n,
		Sum:    us(float64(sum)),
		Min:    us(float64(lo)),
		P1:     us(float64(p[0])),
		P10:    us(float64(p[1])),
		P50:    us(float64(p[2])),
		P90:    us(float64(p[3])),
		P99:    us(float64(p[4])),
		P999:   us(float64(p[5])),
		Max:    us(float64(hi)),
		Mean:   us(float64(sum) / float64(n)),
		StdDev: us(h.StdDev()),
	}
}

// newGapRecorders returns a recorder for every listener cfg opens.
func newGapRecorders(cfg Config) (g [numListeners]*gapRecorder) {
	for l, addr := range [numListeners]string{listenHTTP: cfg.HTTP, listenGRPC: cfg.GRPC, listenTCP: cfg.TCP, listenUDP: cfg.UDP} {
		if addr != "" {
			g[l] = newGapRecorder()
		}
	}
	return g
}

// arrivalGaps reads every open listener's recorder.
func (s *Server) arrivalGaps(reset bool) map[string]ArrivalGaps {
	m := map[string]ArrivalGaps{}
	for l, g := range s.gaps {
		if g != nil {
			m[listener(l).String()] = g.read(reset)
		}
	}
	return m
}

// ResetArrivalGaps empties every listener's arrival gaps and returns what
// they held, as one atomic step per listener: no arrival is lost or counted
// twice between the read and the reset. The next arrival on a listener
// starts its new series.
func (s *Server) ResetArrivalGaps() map[string]ArrivalGaps { return s.arrivalGaps(true) }

// ArrivalGapsReset is the answer to POST /_smp/stats/reset: the arrival
// gaps each listener held when it was reset.
type ArrivalGapsReset struct {
	ArrivalGaps map[string]ArrivalGaps `json:"arrival_gap_us"`
}
