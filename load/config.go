package load

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrInvalid wraps every configuration error Run reports: the caller's
	// input is wrong, the run never started.
	ErrInvalid = errors.New("invalid load configuration")
	// ErrUnreachable is returned when the first connection to every
	// endpoint failed: the target is not there, nothing was measured.
	ErrUnreachable = errors.New("target unreachable")
)

// errDrainExpired is the cause of the workers' context when the drain
// period after the measured window runs out.
var errDrainExpired = errors.New("drain period expired")

// ErrLateStart is returned when a run with Config.Start could not open its
// connections before that instant: it would start late, out of step with
// the generators it was scheduled with.
var ErrLateStart = errors.New("missed the scheduled start")

// ErrMaxDuration is the cause of a run ended by Config.MaxDuration.
var ErrMaxDuration = errors.New("hard time limit reached")

// MaxWorkers bounds connections × streams over all clients of one run. Each
// worker is a goroutine with its own connection; one machine runs out of
// ephemeral ports towards one target well before this.
const MaxWorkers = 100_000

// Defaults for the zero values of Config.
const (
	DefaultInterval = time.Second
	DefaultDrain    = 10 * time.Second
	// intervalsPerStep is how many interval entries are kept at one step
	// before the step doubles.
	intervalsPerStep = 3600
	// startLead is how far in the future the schedule starts, so that the
	// workers are running when the first slots fall due.
	startLead = 10 * time.Millisecond
)

// Endpoint is one target of a client: a URL (for reports) and the driver
// that opens connections to it.
type Endpoint struct {
	URL    string
	Driver Driver
}

// Client is one load generator of a test: its endpoints (used round
// robin, one request each in turn, all of one protocol), its concurrency
// and its schedule.
type Client struct {
	Name      string
	Endpoints []Endpoint
	// Connections × Streams workers run, each with its own Conn per
	// endpoint and at most one request in flight. Streams 0 means 1.
	Connections, Streams int
	// Pacer is the schedule; nil (or ClosedLoop()) runs a closed loop.
	Pacer Pacer
	// OKStatus is the set of status codes that are success; nil means
	// DefaultOKStatus of the client's protocol. A protocol without codes
	// (TCP, UDP) takes none.
	OKStatus *StatusSet
	// Requests, when positive, stops the client after that many requests
	// in the measured window (warm-up requests do not count). In an open
	// loop it bounds the schedule, which keeps its rate; in a closed loop
	// the workers share the budget. Config.Duration is then a cap.
	Requests int64
}

// Share says which part of a schedule this generator runs: share Index of
// Count. Slot i of the generator's own sequence is global slot
// i·Count + Index, so Count generators with Index 0..Count-1 together run
// the whole schedule evenly interleaved. The zero value runs all of it.
type Share struct{ Index, Count int }

func (s Share) norm() (k, n uint64) {
	if s.Count <= 1 {
		return 0, 1
	}
	return uint64(s.Index), uint64(s.Count)
}

// Config describes a run. Run does not close the drivers.
type Config struct {
	// Clients run concurrently; each keeps its own figures.
	Clients []Client
	// Duration of the measured window, after Warmup. Traffic during the
	// warm-up is sent but not recorded.
	Duration, Warmup time.Duration
	Share            Share
	// Drain bounds how long after the window the run waits for late sends
	// and unanswered requests; 0 means DefaultDrain. Requests still
	// unanswered then count as timeouts; unsent ones make the result
	// partial.
	Drain time.Duration
	// Interval is the step of the time series; 0 means DefaultInterval.
	Interval time.Duration
	// MaxDuration is a hard limit on the run from the start of its
	// schedule: when it passes, the run ends whatever is in flight (counted
	// as timeouts) and the result is partial. 0 means Warmup + Duration +
	// Drain; a shorter limit cuts the drain.
	MaxDuration time.Duration
	// Progress, if set, is called once per interval (and during the
	// warm-up) from a goroutine of the run; it must return quickly.
	Progress func(Progress)
	// ProgressLatency fills Progress.Latency: a copy of the latency
	// histogram (about 190 KB) each interval, made only for a caller that
	// asks (live metrics), not for every progress line.
	ProgressLatency bool
	// Start, if set, is when the schedule starts (its t0, the due time of
	// slot 0): several generators given the same instant start together.
	// The probe and the connections happen before it; if they are not
	// done by then, Run returns ErrLateStart. Zero starts as soon as the
	// connections are open.
	Start time.Time
	// Notify, if set, receives messages for people about a start that
	// takes long (a probe waiting for its answer); it must return quickly.
	Notify func(string)
}

func (c *Config) check() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	if len(c.Clients) == 0 {
		return bad("no clients")
	}
	if c.Duration <= 0 {
		return bad("duration must be positive, got %v", c.Duration)
	}
	if c.Warmup < 0 {
		return bad("warm-up must not be negative, got %v", c.Warmup)
	}
	if c.Drain < 0 || c.Interval < 0 || c.MaxDuration < 0 {
		return bad("drain, interval and maximum duration must not be negative")
	}
	if c.MaxDuration > 0 && c.MaxDuration < c.Warmup+c.Duration {
		return bad("maximum duration %v is shorter than warm-up + duration (%v)", c.MaxDuration, c.Warmup+c.Duration)
	}
	if c.Interval > 0 && c.Interval < 10*time.Millisecond {
		return bad("interval %v is shorter than 10ms", c.Interval)
	}
	if s := c.Share; s.Count < 0 || s.Index < 0 || (s.Count > 0 && s.Index >= s.Count) || (s.Count == 0 && s.Index != 0) {
		return bad("share %d of %d is not a share", s.Index, s.Count)
	}
	workers := 0
	for i, cl := range c.Clients {
		name := cl.Name
		if name == "" {
			name = fmt.Sprintf("client %d", i+1)
		}
		if len(cl.Endpoints) == 0 {
			return bad("%s has no endpoints", name)
		}
		for j, e := range cl.Endpoints {
			if e.Driver == nil {
				return bad("%s endpoint %d (%s) has no driver", name, j+1, e.URL)
			}
			if p, p0 := e.Driver.Protocol(), cl.Endpoints[0].Driver.Protocol(); p != p0 {
				return bad("%s endpoint %d (%s) speaks %s, endpoint 1 %s: a client speaks one protocol", name, j+1, e.URL, p.Name, p0.Name)
			}
		}
		if cl.OKStatus != nil && cl.Endpoints[0].Driver.Protocol().Codes == "" {
			return bad("%s: %s has no status codes to count as success", name, cl.Endpoints[0].Driver.Protocol().Name)
		}
		if cl.Requests < 0 {
			return bad("%s: a request count must not be negative, got %d", name, cl.Requests)
		}
		if cl.Connections < 1 {
			return bad("%s needs at least one connection, got %d", name, cl.Connections)
		}
		if cl.Streams < 0 {
			return bad("%s has %d streams per connection", name, cl.Streams)
		}
		if cl.Connections > MaxWorkers || cl.Streams > MaxWorkers || cl.Connections*max(cl.Streams, 1) > MaxWorkers-workers {
			return bad("more than %d connections × streams in one run", MaxWorkers)
		}
		workers += cl.Connections * max(cl.Streams, 1)
	}
	return nil
}
