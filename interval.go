package smp

import (
	"sync"
	"time"

	"github.com/smp-project/smp/load"
)

// Interval is one step of a running test's time series, delivered to
// OnInterval as it closes: one per second of the measured window (none
// during the warm-up; after 3,600 of them the step doubles, as the
// engine's does), then a last one, after the run, with what came in
// since the one before (the tail of the window, and answers that arrived
// after it). The intervals' Requests add up to the result's
// (Result.Load.Total.Requests), and their Errors to its Errors.
//
// These are the figures of a test in progress; the result's own series
// (Result.Load.Total.Intervals) is the settled one, with a latency
// histogram per interval.
type Interval struct {
	// Offset and Length place the interval in the measured window.
	Offset, Length time.Duration
	// Requests and Errors counted in the interval; Rate is Requests per
	// second of Length.
	Requests, Errors int64
	Rate             float64
	// TotalRequests and TotalErrors are the counts so far.
	TotalRequests, TotalErrors int64
	// P99 is the 99th percentile of every latency so far, timed from each
	// request's due time.
	P99 time.Duration
	// Last marks the last interval of the test.
	Last bool
}

// stream turns the engine's progress snapshots into Intervals and hands
// them to the caller's function from a goroutine of its own, so that a
// slow function never holds up the engine's collector. The queue has no
// bound: one interval a second is little to keep.
type stream struct {
	fn func(Interval)
	// prev is the end of the last interval and the counts then; only
	// the engine's progress goroutine, then (after the run) last, use it.
	prev Interval

	mu     sync.Mutex
	queue  []Interval
	closed bool
	wake   chan struct{} // a token when the queue may have grown or closed
	done   chan struct{} // closed when the delivery goroutine ends
	once   sync.Once
}

func newStream(fn func(Interval)) *stream {
	s := &stream{fn: fn, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go s.deliver()
	return s
}

// progress takes one of the engine's snapshots.
func (s *stream) progress(p load.Progress) {
	if p.Warmup {
		return
	}
	s.push(s.next(p.Elapsed, p.Requests, p.Errors, p.P99, false))
}

// last queues the last interval: what the result counts beyond the last
// snapshot.
func (s *stream) last(r *load.Result) {
	var p99 time.Duration
	if r.Total.Latency != nil {
		p99 = r.Total.Latency.Percentile(99)
	}
	s.push(s.next(r.Elapsed, r.Total.Requests, r.Total.Errors, p99, true))
}

func (s *stream) next(end time.Duration, requests, errors int64, p99 time.Duration, last bool) Interval {
	iv := Interval{
		Offset: s.prev.Offset + s.prev.Length, Requests: requests - s.prev.TotalRequests, Errors: errors - s.prev.TotalErrors,
		TotalRequests: requests, TotalErrors: errors, P99: p99, Last: last,
	}
	iv.Length = max(end-iv.Offset, 0)
	if iv.Length > 0 {
		iv.Rate = float64(iv.Requests) / iv.Length.Seconds()
	}
	s.prev = iv
	return iv
}

func (s *stream) push(iv Interval) {
	s.mu.Lock()
	s.queue = append(s.queue, iv)
	s.mu.Unlock()
	s.signal()
}

func (s *stream) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *stream) deliver() {
	defer close(s.done)
	for {
		<-s.wake
		s.mu.Lock()
		batch, closed := s.queue, s.closed
		s.queue = nil
		s.mu.Unlock()
		for _, iv := range batch {
			s.fn(iv)
		}
		if closed {
			return
		}
	}
}

// close delivers what is queued and waits until the function has returned
// for the last time. It may be called more than once.
func (s *stream) close() {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.signal()
	})
	<-s.done
}
