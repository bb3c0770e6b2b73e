package load

import (
	"sync"
	"time"

	"github.com/smp-project/smp/hist"
)

// EndpointFigures are one endpoint's share of a client's figures, kept
// when the client has several endpoints: merged figures hide a slow one.
type EndpointFigures struct {
	URL                  string
	Requests, OK, Errors int64
	// ActualQPS is Requests over the run's span.
	ActualQPS float64
	// Latency and Uncorrected describe the endpoint's successful answers,
	// as the client's do.
	Latency, Uncorrected *hist.Histogram
}

// Outcomes of a recorded request, as the shard classified it.
const (
	outcomeOK = iota
	outcomeFailed
	outcomeError   // transport error
	outcomeStopped // cut short by the run's stop: a lower bound of its latency
)

// endpointRec records one endpoint's figures. Its lock is taken after the
// shard's is released, only for clients with several endpoints.
type endpointRec struct {
	mu                   sync.Mutex
	requests, ok, errors int64
	lat, unc             *hist.Histogram
}

func newEndpointRecs(n int) []*endpointRec {
	if n < 2 {
		return nil
	}
	out := make([]*endpointRec, n)
	for i := range out {
		out[i] = &endpointRec{lat: hist.New(), unc: hist.New()}
	}
	return out
}

func (e *endpointRec) record(due, sent, done time.Duration, outcome int) {
	e.mu.Lock()
	e.requests++
	switch outcome {
	case outcomeOK:
		e.ok++
		e.lat.Record(done - due)
		e.unc.Record(done - sent)
	case outcomeStopped:
		e.errors++
		e.lat.Record(done - due)
		e.unc.Record(done - sent)
	default:
		e.errors++
	}
	e.mu.Unlock()
}

func (e *endpointRec) fill(url string, span time.Duration) EndpointFigures {
	e.mu.Lock()
	defer e.mu.Unlock()
	f := EndpointFigures{URL: url, Requests: e.requests, OK: e.ok, Errors: e.errors, Latency: e.lat, Uncorrected: e.unc}
	if span > 0 {
		f.ActualQPS = float64(e.requests) / span.Seconds()
	}
	return f
}
