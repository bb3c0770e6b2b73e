package load

import (
	"runtime"
	"sync"
	"time"

	"github.com/smp-project/smp/hist"
)

// LateThreshold is how far behind its schedule a send must be to count in
// Figures.LateSends: past it, the generator rather than the target is
// adding latency that users will see.
const LateThreshold = time.Millisecond

// maxCode bounds the status codes counted in arrays (HTTP's 100..599, gRPC's
// 0..16); rarer codes go to a map, so the request path never allocates.
const maxCode = 600

// counters are the countable figures of one interval or of a whole run.
type counters struct {
	requests, ok, failed, bytes, lateSends int64
	// saturated counts slots that waited for a free connection; satWait
	// sums their waits and satMax is the longest.
	saturated, satWait, satMax int64
	reasons                    [numReasons]int64
	codes, failures            [maxCode]int64
	// Codes outside 0..maxCode-1, rare enough to afford a map.
	otherCodes, otherFailures map[int]int64
}

func (c *counters) add(o *counters) {
	c.requests += o.requests
	c.ok += o.ok
	c.failed += o.failed
	c.bytes += o.bytes
	c.lateSends += o.lateSends
	c.saturated += o.saturated
	c.satWait += o.satWait
	c.satMax = max(c.satMax, o.satMax)
	for i := range c.reasons {
		c.reasons[i] += o.reasons[i]
	}
	for i := range c.codes {
		c.codes[i] += o.codes[i]
		c.failures[i] += o.failures[i]
	}
	c.otherCodes = addMap(c.otherCodes, o.otherCodes)
	c.otherFailures = addMap(c.otherFailures, o.otherFailures)
}

func addMap(dst, src map[int]int64) map[int]int64 {
	for k, v := range src {
		if dst == nil {
			dst = map[int]int64{}
		}
		dst[k] += v
	}
	return dst
}

// otherCode counts a code outside the arrays.
func (c *counters) otherCode(code int, failed bool) {
	if c.otherCodes == nil {
		c.otherCodes = map[int]int64{}
	}
	c.otherCodes[code]++
	if failed {
		if c.otherFailures == nil {
			c.otherFailures = map[int]int64{}
		}
		c.otherFailures[code]++
	}
}

func (c *counters) errors() int64 {
	var n int64
	for _, v := range c.reasons {
		n += v
	}
	return n + c.failed
}

// shard is where a group of workers records. Histograms are not safe for
// concurrent use and one set per worker would cost ~570 KB a worker (three
// 190 KB histograms), too much for thousands of connections; so workers
// share a few shards, each behind its own mutex, enough shards that the
// lock is almost never contended. The collector empties each shard once
// per interval.
type shard struct {
	mu sync.Mutex
	// corrected, uncorrected, lateness, and the corrected time of failed
	// requests
	lat, unc, lt, errLat *hist.Histogram
	n                    *counters
	// codes is false for a protocol without status codes, whose
	// Outcome.Code means nothing; ok, when set, decides which codes are
	// success (otherwise the driver's Outcome.Failed does).
	codes bool
	ok    *okTable
	// msgs are the first distinct error messages of each reason, kept for
	// the whole run (not per interval): the build reads them at the end.
	msgs errorMessages
	// Keep neighbouring shards' hot fields on different cache lines.
	_ [64]byte
}

func newShard(codes bool, ok *okTable) *shard {
	return &shard{lat: hist.New(), unc: hist.New(), lt: hist.New(), errLat: hist.New(), n: &counters{}, codes: codes, ok: ok}
}

// histograms returns the shard's histograms in the order the collector's
// spares are kept.
func (s *shard) histograms() [numHists]*hist.Histogram {
	return [numHists]*hist.Histogram{s.lat, s.unc, s.lt, s.errLat}
}

func (s *shard) setHistograms(h [numHists]*hist.Histogram) {
	s.lat, s.unc, s.lt, s.errLat = h[0], h[1], h[2], h[3]
}

// numHists is the number of histograms a shard records into.
const numHists = 4

// record adds one request. Times are offsets on the run's clock: due is
// when the request was due (== sent in a closed loop, where open is false
// and lateness means nothing), ready when a connection was free to send it
// (max(due, when the worker became idle)), sent and done when it went out
// and when its answer (or failure) came.
//
// The latency histograms describe successful answers: a failed request —
// a transport error, or an answer whose status is outside the success set
// (an HTTP 503 by default) — is timed in the error histogram only, since
// a refused connection's 50 µs or a fast 503 is not a service time and
// would flatter the percentiles. stop >= 0 marks a request cut short by
// the run stopping (reasonTimeout or reasonCancelled): it failed to finish
// rather than failed, and its elapsed time is a lower bound of its latency,
// so it goes to the latency histograms too (and to the error histogram),
// so that a stall at the end of a run is not omitted.
func (s *shard) record(due, ready, sent, done time.Duration, open bool, o Outcome, err error, stop int) (outcome int) {
	var reason int
	var msg string
	if err != nil {
		reason = stop
		if reason < 0 {
			reason = classify(err)
		}
		// Only failed requests pay for the message: the request path of
		// a healthy run stays free of allocations.
		msg = errorMessage(err)
	}
	s.mu.Lock()
	s.n.requests++
	if open {
		late := sent - ready
		s.lt.Record(late)
		if late > LateThreshold {
			s.n.lateSends++
		}
		if wait := int64(ready - due); wait > 0 {
			s.n.saturated++
			s.n.satWait += wait
			s.n.satMax = max(s.n.satMax, wait)
		}
	}
	if err != nil {
		s.n.reasons[reason]++
		s.msgs.add(reason, msg, 1)
		s.errLat.Record(done - due)
		outcome = outcomeError
		if stop >= 0 {
			s.lat.Record(done - due)
			s.unc.Record(done - sent)
			outcome = outcomeStopped
		}
		s.mu.Unlock()
		return outcome
	}
	failed := o.Failed
	if s.ok != nil && s.codes {
		failed = s.ok.failed(o.Code)
	}
	s.n.bytes += o.Bytes
	if failed {
		s.n.failed++
		s.errLat.Record(done - due)
		outcome = outcomeFailed
	} else {
		s.n.ok++
		s.lat.Record(done - due)
		s.unc.Record(done - sent)
	}
	switch {
	case !s.codes:
	case o.Code >= 0 && o.Code < maxCode:
		s.n.codes[o.Code]++
		if failed {
			s.n.failures[o.Code]++
		}
	default:
		s.n.otherCode(o.Code, failed)
	}
	s.mu.Unlock()
	return outcome
}

// shardCount picks how many shards a client's workers share: one per
// worker for small runs, and otherwise a few per CPU, since at most
// GOMAXPROCS workers record at the same instant.
func shardCount(workers int) int {
	n := 4 * runtime.GOMAXPROCS(0)
	if n > 64 {
		n = 64
	}
	if workers < n {
		n = workers
	}
	return max(n, 1)
}

// figures accumulates a client's (or the total's) figures over the run.
type figures struct {
	// cumulative: corrected, uncorrected, lateness, failed requests
	h   [numHists]*hist.Histogram
	cur *hist.Histogram // the current interval's corrected latency
	// curN is the current interval's counters, n the cumulative ones.
	curN, n   counters
	intervals []Interval
	// keepHists keeps each interval's encoded histogram (Interval.Histogram).
	keepHists bool
	encErr    error
}

func newFigures(keepHists bool) *figures {
	return &figures{h: [numHists]*hist.Histogram{hist.New(), hist.New(), hist.New(), hist.New()}, cur: hist.New(), keepHists: keepHists}
}

// absorb moves a shard's interval histograms and counters into the current
// interval and the cumulative figures.
func (f *figures) absorb(hs [numHists]*hist.Histogram, n *counters) error {
	if err := f.cur.Merge(hs[0]); err != nil {
		return err
	}
	for i, h := range hs {
		if err := f.h[i].Merge(h); err != nil {
			return err
		}
	}
	f.curN.add(n)
	return nil
}

// closeInterval turns the current interval into a series entry. With
// extend set, the interval is the short tail of the run and is folded into
// the previous entry instead (its histogram still holds the previous
// interval, since cur is only reset when a new interval begins), so that a
// sliver of a second does not show as a wild rate.
func (f *figures) closeInterval(offset, length time.Duration, extend bool) {
	f.n.add(&f.curN)
	if length <= 0 && f.curN.requests == 0 && !extend {
		return // nothing to show: a run stopped before its window
	}
	iv := Interval{Offset: offset, Length: length, Requests: f.curN.requests, Errors: f.curN.errors()}
	if extend && len(f.intervals) > 0 {
		prev := f.intervals[len(f.intervals)-1]
		iv.Offset = prev.Offset
		iv.Length = prev.Length + length
		iv.Requests += prev.Requests
		iv.Errors += prev.Errors
		f.intervals = f.intervals[:len(f.intervals)-1]
	}
	if iv.Length > 0 {
		iv.ActualQPS = float64(iv.Requests) / iv.Length.Seconds()
	}
	iv.Latencies = f.cur.Count()
	if iv.Latencies > 0 {
		iv.P50, iv.P99, iv.Max = f.cur.Percentile(50), f.cur.Percentile(99), f.cur.Max()
		if f.keepHists {
			// A sparse interval histogram encodes to a few hundred bytes,
			// and the series is bounded (the step doubles), so a run of
			// any length keeps them all.
			enc, err := f.cur.Encode()
			if err != nil && f.encErr == nil {
				f.encErr = err
			}
			iv.Histogram = enc
		}
	}
	f.intervals = append(f.intervals, iv)
	f.curN = counters{}
}

// startInterval clears the current interval's histogram.
func (f *figures) startInterval() { f.cur.Reset() }
