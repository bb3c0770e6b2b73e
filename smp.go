package smp

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/smprun"
	"github.com/smp-project/smp/spec"
)

// The errors Run and RunConfig wrap, for errors.Is. They are the engine's
// own (load.ErrInvalid, load.ErrUnreachable).
var (
	// ErrInvalid: the input is wrong; nothing was sent.
	ErrInvalid = load.ErrInvalid
	// ErrUnreachable: no endpoint answered at the start (refused, an
	// untrusted certificate, no answer within the timeout); nothing was
	// measured.
	ErrUnreachable = load.ErrUnreachable
)

// Test is a load test against one URL. The zero value of every field but
// URL means its default.
type Test struct {
	// URL is the target. Its scheme chooses the protocol: http and https
	// HTTP/1.1, grpc and grpcs gRPC, tcp TCP, udp UDP.
	URL string
	// Protocol overrides the scheme's choice: http, http2 (HTTP/2 over TLS
	// with ALPN, or h2c), grpc, tcp or udp.
	Protocol string
	// Rate is the requests per second the schedule sends; 0 runs a closed
	// loop (each connection sends as soon as its last answer came).
	Rate float64
	// Ramp and Steps are the other schedules, in smp run's notation: Ramp
	// "FROM:TO/DURATION" moves the rate linearly (e.g. "100:1000/30s"),
	// Steps "R1,R2,.../STEP" holds each rate for STEP (e.g.
	// "100,200,400/10s"). At most one of Rate, Ramp and Steps is set;
	// Duration then defaults to the schedule's length.
	Ramp, Steps string
	// Requests, when positive, ends the test after that many measured
	// requests: an open loop keeps its rate and its window is exactly
	// those slots; closed-loop connections share the count (within
	// Duration, or an hour when Duration is 0).
	Requests int64
	// OKStatus is the set of statuses that count as successes, such as
	// "200-299,304"; "" means 200–399 for HTTP and OK for gRPC. Other
	// answers are failures, timed apart from the successes' latency.
	OKStatus string
	// Duration of the measured window; 0 means 10s.
	Duration time.Duration
	// Warmup is sent before the window and not measured; 0 means none.
	Warmup time.Duration
	// Connections to the target; 0 means 8.
	Connections int
	// Streams are the requests in flight per connection (HTTP/2, gRPC,
	// UDP); 0 means 1 (UDP without a Body: 32).
	Streams int
	// Method, Headers and Body of each request. Method is HTTP's: "" is
	// GET, or POST with a Body (a gRPC method is the URL's path). Headers
	// are HTTP headers or gRPC metadata. Body is the HTTP body, the gRPC
	// request message in JSON, or the TCP or UDP payload.
	Method  string
	Headers map[string]string
	Body    []byte
	// Timeout of each request; 0 means the protocol's default.
	Timeout time.Duration
	// Insecure skips the verification of the target's TLS certificate;
	// CAFile is a PEM file of CAs to trust instead of the system's.
	Insecure bool
	CAFile   string
	// OnInterval, if set, receives the results of each interval while the
	// test runs (see Interval).
	OnInterval func(Interval)
}

// Options are RunConfig's settings that an SMP config does not carry.
type Options struct {
	// OnInterval, if set, receives the results of each interval while the
	// test runs (see Interval).
	OnInterval func(Interval)
	// Dir resolves the config's relative body_file and ssl_certificate
	// paths ("" for the working directory).
	Dir string
}

// Result is what a test measured.
type Result struct {
	// Load is the engine's result: Load.Total has the counts (Requests,
	// Errors, Codes, Scheduled), the latency histograms and the time
	// series (Intervals); Load.Clients the same per client.
	Load *load.Result
	// SMP is the same as an SMP result document, with the config that ran.
	SMP *spec.PerformanceTestResult
	// Notes are what the test ignored, such as additional_options a
	// protocol does not take.
	Notes []string
}

// Run runs a load test against t.URL and returns what it measured. It
// takes the warm-up and the duration, and then the time the last answers
// take (at most the engine's drain, load.DefaultDrain). See the package
// documentation for its errors and for cancelling ctx.
func Run(ctx context.Context, t Test) (*Result, error) {
	cfg, err := t.Config()
	if err != nil {
		return nil, err
	}
	return RunConfig(ctx, cfg, Options{OnInterval: t.OnInterval})
}

// RunConfig runs an SMP test config, as `smp run -f` does, and returns
// what it measured. cfg is not modified.
func RunConfig(ctx context.Context, cfg *spec.PerformanceTestConfig, o Options) (*Result, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%w: no test config", ErrInvalid)
	}
	var st *stream
	if o.OnInterval != nil {
		st = newStream(o.OnInterval)
		defer st.close() // on every path: the delivery goroutine ends
	}
	var notes []string
	so := smprun.SeriesOptions{Note: func(_, note string) { notes = append(notes, note) }}
	if st != nil {
		so.Progress = func(_ smprun.RunInfo, p load.Progress) { st.progress(p) }
	}
	v := smprun.Variant{
		Config: cfg,
		Plan:   smprun.PlanOptions{BaseDir: o.Dir},
		Result: smprun.ResultOptions{Generator: smprun.ThisGenerator()},
	}
	vrs, err := smprun.RunSeries(ctx, []smprun.Variant{v}, so)
	if err != nil {
		return nil, err
	}
	// One variant run once: RunSeries returns it, or an error.
	res := &Result{Load: vrs[0].Load, SMP: vrs[0].Result, Notes: notes}
	if st != nil {
		st.last(res.Load)
		st.close()
	}
	return res, nil
}

// Config returns the SMP test config that Run runs for t: what to save to
// rerun the test with `smp run -f`, or to change before RunConfig. Bad
// fields give an error wrapping ErrInvalid.
func (t Test) Config() (*spec.PerformanceTestConfig, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	switch {
	case strings.TrimSpace(t.URL) == "":
		return nil, bad("Test.URL is empty")
	case t.Rate < 0:
		return nil, bad("Test.Rate must be 0 (closed loop) or a positive rate, got %v", t.Rate)
	case t.Duration < 0:
		return nil, bad("Test.Duration must not be negative, got %v", t.Duration)
	case t.Warmup < 0:
		return nil, bad("Test.Warmup must not be negative, got %v", t.Warmup)
	case t.Connections < 0:
		return nil, bad("Test.Connections must not be negative, got %d", t.Connections)
	case t.Streams < 0:
		return nil, bad("Test.Streams must not be negative, got %d", t.Streams)
	case t.Timeout < 0:
		return nil, bad("Test.Timeout must not be negative, got %v", t.Timeout)
	case t.Requests < 0:
		return nil, bad("Test.Requests must not be negative, got %d", t.Requests)
	case t.Ramp != "" && t.Steps != "":
		return nil, bad("Test.Ramp and Test.Steps are both set; give one schedule")
	case t.Rate > 0 && (t.Ramp != "" || t.Steps != ""):
		return nil, bad("Test.Rate is set with Test.Ramp or Test.Steps; give one schedule")
	}
	if t.Ramp != "" {
		if _, err := load.ParseRamp(t.Ramp); err != nil {
			return nil, bad("Test.Ramp: %s", reason(err))
		}
	}
	if t.Steps != "" {
		if _, err := load.ParseSteps(t.Steps); err != nil {
			return nil, bad("Test.Steps: %s", reason(err))
		}
	}
	if t.OKStatus != "" {
		if _, err := load.ParseStatusSet(t.OKStatus); err != nil {
			return nil, bad("Test.OKStatus: %s", reason(err))
		}
	}
	s := smprun.Settings{URLs: []string{t.URL}}
	switch {
	case t.Ramp != "":
		s.Ramp = &t.Ramp
	case t.Steps != "":
		s.Steps = &t.Steps
	default:
		s.QPS = &t.Rate
	}
	if t.Requests > 0 {
		s.Requests = &t.Requests
	}
	if t.OKStatus != "" {
		s.OKStatus = &t.OKStatus
	}
	if t.Duration > 0 {
		s.Duration = &t.Duration
	}
	if t.Warmup > 0 {
		s.Warmup = &t.Warmup
	}
	if t.Connections > 0 {
		s.Connections = &t.Connections
	}
	if t.Streams > 0 {
		s.Streams = &t.Streams
	}
	if t.Timeout > 0 {
		s.Timeout = &t.Timeout
	}
	if t.Protocol != "" {
		s.Protocol = &t.Protocol
	}
	if t.Method != "" {
		s.Method = &t.Method
	}
	for _, name := range slices.Sorted(maps.Keys(t.Headers)) {
		if strings.Contains(name, ":") {
			return nil, bad("header name %q has a colon", name)
		}
		s.Headers = append(s.Headers, name+": "+t.Headers[name])
	}
	if t.Body != nil {
		body := string(t.Body)
		s.Body = &body
	}
	if t.Insecure {
		s.Insecure = &t.Insecure
	}
	if t.CAFile != "" {
		s.CACert = &t.CAFile
	}
	return smprun.ApplySettings(nil, s)
}

// reason is err's text without the ErrInvalid prefix that bad adds again.
func reason(err error) string {
	return strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": ")
}
