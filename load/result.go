package load

import (
	"maps"
	"slices"
	"time"

	"github.com/smp-project/smp/hist"
)

// Result is what a run measured: the figures of each client and their
// total. Only requests due (open loop) or sent (closed loop) after the
// warm-up count.
type Result struct {
	// Start and End bound the measured window in wall-clock time: Start is
	// the end of the warm-up, End when the last request finished.
	Start, End time.Time
	// T0 is when the schedule started (slot 0 was due): Start less the
	// warm-up.
	T0 time.Time
	// FirstSend is when the first request went out, from T0 (-1 if none
	// did): with T0, when load actually began.
	FirstSend time.Duration
	// Elapsed is End − Start on the monotonic clock.
	Elapsed time.Duration
	// Span is the time the requests were sent over: the window's duration,
	// longer when the generator fell behind its schedule, shorter when the
	// run was stopped. Rates divide by it, not by Elapsed, which also
	// counts the wait for the last answers.
	Span time.Duration
	// Duration and Warmup are the requested lengths.
	Duration, Warmup time.Duration
	// Partial is set when the run stopped before its end (cancelled, or
	// requests still unsent or unanswered when the drain period ran out);
	// PartialReason says why. What was measured is kept.
	Partial       bool
	PartialReason string
	// Share is the part of the schedule this generator ran.
	Share Share
	// CPU is what the generator's process spent from the start of the
	// schedule to the end of the run (the whole process: a target run in
	// the same process counts too), and Cores the cores it could use
	// (GOMAXPROCS).
	CPU   CPU
	Cores int
	// Total sums every client; with one client it equals Clients[0] apart
	// from the name.
	Total   Figures
	Clients []Figures
	// Generators are the parts of a run merged from several generators
	// (remote agents, each a share of the schedule); nil for a local run.
	Generators []GeneratorShare
}

// GeneratorShare is one generator's part of a distributed run.
type GeneratorShare struct {
	// Address is where the coordinator reached it; Share its part.
	Address string
	Share   Share
	// ClockOffset is its clock less the coordinator's, estimated from
	// round trips, within ± ClockUncertainty (half the best round trip).
	ClockOffset, ClockUncertainty time.Duration
	// StartOffset is when its first request went out, on the
	// coordinator's clock (its own time less ClockOffset), after the
	// earliest generator's first.
	StartOffset time.Duration
	// Its own figures (for a lost generator, as of its last progress).
	Requests, Errors int64
	LatenessP99      time.Duration
	// CPUBusy is the share of its cores it kept busy.
	CPUBusy float64
	// Lost is set when it stopped answering (or its stream broke) before
	// it returned its result; LostAt is when, from the start of the
	// measured window, and Unsent how many of its scheduled requests it
	// had not sent by its last progress.
	Lost   bool
	LostAt time.Duration
	Unsent int64
	// Note says why, for a lost or saturated generator.
	Note string
	// Result is its own result (nil for a lost one), for callers that
	// check the merge; it does not travel.
	Result *Result `json:"-"`
}

// Figures are one client's measurements, or the total of all clients.
type Figures struct {
	Name string
	// Protocol is what the client's drivers speak; in the total, the
	// protocol every client speaks (zero when they speak several).
	Protocol  Protocol
	Endpoints []string
	// PerEndpoint are the figures of each endpoint of a client with
	// several (in the total, of every client's endpoints); nil otherwise.
	PerEndpoint []EndpointFigures
	// Pacer describes the schedule ("2000/s", "closed loop").
	Pacer string
	// OpenLoop is false for a closed loop, where latency is timed from the
	// actual send and Lateness is empty.
	OpenLoop bool
	// Workers is connections × streams, the bound on requests in flight.
	Workers int
	// RequestedQPS is the rate the schedule asked of this generator over
	// the measured window (0 for a closed loop); ActualQPS is Requests
	// divided by Result.Span.
	RequestedQPS, ActualQPS float64
	// Requests = OK + Errors; Errors counts transport errors (by reason in
	// ErrorReasons) and failed responses (by code in Failures).
	Requests, OK, Errors int64
	ErrorReasons         map[string]int64
	// ErrorMessages are the first distinct messages of each error reason
	// (up to five; the rest counted under OtherMessages), most frequent
	// first, with their counts: what the errors were.
	ErrorMessages map[string][]MessageCount
	Failures      map[int]int64
	// Codes counts every response by its status code; it is empty for a
	// protocol without codes (Protocol.Codes "").
	Codes map[int]int64
	// Bytes is the response body bytes read.
	Bytes int64
	// Latency is timed from each request's due time (corrected for
	// coordinated omission), Uncorrected from its actual send, Lateness is
	// send − due: the generator's own delay. Transport errors are not in
	// the latency histograms.
	Latency, Uncorrected, Lateness *hist.Histogram
	// ErrorLatency is the corrected time of every failed request (transport
	// errors and failed responses, and requests cut short by the run's
	// stop), so that failures are timed too.
	ErrorLatency *hist.Histogram
	// LateSends counts sends more than LateThreshold behind schedule:
	// lateness is the generator's own delay (CPU, scheduler), from when a
	// connection was free to send the slot until it was sent.
	LateSends int64
	// Saturation is the time slots waited for a free connection because
	// every one was busy: the client's concurrency, not its CPU, held them.
	Saturation Saturation
	// Connections are the connections' set-up figures.
	Connections ConnStats
	// Scheduled is the number of requests the schedule had due in the
	// measured window (0 for a closed loop); Unsent those that were due
	// before the run stopped (cancelled, or the drain period or the hard
	// limit ran out) and never sent. Slots not yet due at a stop are in
	// neither Requests nor Unsent.
	Scheduled, Unsent int64
	// Intervals is the time series, in steps of Config.Interval (the step
	// doubles after every 3,600 entries so that memory stays bounded).
	Intervals []Interval
}

// Interval is one step of the time series. Latency figures are corrected.
type Interval struct {
	Offset, Length   time.Duration // from the start of the measured window
	Requests, Errors int64
	ActualQPS        float64
	// Latencies is the number of latencies recorded in the interval; when
	// it is 0 (nothing was answered) P50, P99, Max and Histogram mean
	// nothing and are zero.
	Latencies     int64
	P50, P99, Max time.Duration
	// Histogram is the interval's corrected latency histogram, encoded
	// (hist.Encode), for interval logs and percentiles over time.
	Histogram string
}

// CPU is processor time in user space and in the kernel. On loopback the
// kernel time includes delivering each request to the server and waking it.
type CPU struct{ User, Sys time.Duration }

// Busy is the share of cores the process kept busy over d.
func (c CPU) Busy(d time.Duration, cores int) float64 {
	if d <= 0 || cores <= 0 {
		return 0
	}
	return (c.User + c.Sys).Seconds() / (d.Seconds() * float64(cores))
}

// Saturation sums the waits of slots that were due while every connection
// (or stream) was busy.
type Saturation struct {
	// Slots is how many slots waited; Wait their total wait and Max the
	// longest one.
	Slots     int64
	Wait, Max time.Duration
}

// ConnStats are a client's connection figures: Opened before the schedule
// started (Failed could not be), Reconnects during the run (after an error
// or a close by the server; ReconnectsFailed of them failed), and the
// set-up time of every connection made (dial, TLS and protocol handshakes),
// before and during the run.
type ConnStats struct {
	Opened, Failed               int64
	Reconnects, ReconnectsFailed int64
	Setup                        *hist.Histogram
}

// Progress is a snapshot passed to Config.Progress once per interval.
type Progress struct {
	// Warmup is true during the warm-up; Elapsed then counts from the start
	// of the run, otherwise from the start of the measured window.
	Warmup   bool
	Elapsed  time.Duration
	Duration time.Duration
	// Requests and Errors so far; Rate is the actual rate of the last
	// interval; P99 the corrected p99 so far.
	Requests, Errors int64
	Rate             float64
	P99              time.Duration
	// RequestedRate is the rate the schedules ask for at Elapsed, summed
	// over the clients (this generator's share; 0 for a closed loop).
	RequestedRate float64
	// ErrorReasons counts the errors so far by reason: the Reason* names,
	// and failed responses as the protocol's codes and the code
	// ("http_503", "grpc_14", as in SMP results). Clients the requests and errors so far of each client, in
	// Config.Clients order. Both are nil during the warm-up.
	ErrorReasons map[string]int64
	Clients      []ClientProgress
	// Latency is a copy of the corrected latency histogram so far, taken
	// by the collector once per interval when Config.ProgressLatency is
	// set (nil otherwise, and during the warm-up); the callback may keep it.
	Latency *hist.Histogram
}

// ClientProgress is one client's part of a Progress.
type ClientProgress struct {
	Name             string
	Requests, Errors int64
}

// DefaultPercentiles are the percentiles reports show.
func DefaultPercentiles() []float64 { return []float64{50, 75, 90, 95, 99, 99.9, 99.99} }

// fill copies the collected figures into f; span is the time the requests
// were sent over, which rates divide by.
func (fig *figures) fill(f *Figures, span time.Duration) {
	n := &fig.n
	f.Requests, f.OK, f.Bytes, f.LateSends = n.requests, n.ok, n.bytes, n.lateSends
	f.Errors = n.errors()
	f.ErrorReasons = map[string]int64{}
	for r, v := range n.reasons {
		if v > 0 {
			f.ErrorReasons[reasonName(r)] = v
		}
	}
	f.Codes = addMap(map[int]int64{}, n.otherCodes)
	f.Failures = addMap(map[int]int64{}, n.otherFailures)
	for code := range n.codes {
		if n.codes[code] > 0 {
			f.Codes[code] += n.codes[code]
		}
		if n.failures[code] > 0 {
			f.Failures[code] += n.failures[code]
		}
	}
	f.Latency, f.Uncorrected, f.Lateness, f.ErrorLatency = fig.h[0], fig.h[1], fig.h[2], fig.h[3]
	f.Saturation = Saturation{Slots: n.saturated, Wait: time.Duration(n.satWait), Max: time.Duration(n.satMax)}
	f.Intervals = fig.intervals
	if span > 0 {
		f.ActualQPS = float64(f.Requests) / span.Seconds()
	}
}

// SortedCodes returns the keys of a code map in order, for stable output.
func SortedCodes(m map[int]int64) []int { return slices.Sorted(maps.Keys(m)) }
