package load

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
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
// robin, one request each in turn), its concurrency and its schedule.
type Client struct {
	Name      string
	Endpoints []Endpoint
	// Connections × Streams workers run, each with its own Conn per
	// endpoint and at most one request in flight. Streams 0 means 1.
	Connections, Streams int
	// Pacer is the schedule; nil (or ClosedLoop()) runs a closed loop.
	Pacer Pacer
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

// clock is the run's time base: offsets from t0 on Go's monotonic clock,
// and t0 on CLOCK_MONOTONIC for the timerfd sleepers.
type clock struct {
	t0    time.Time
	mono0 int64
}

func newClock(lead time.Duration) *clock {
	m1 := monoNow()
	now := time.Now()
	m2 := monoNow()
	return &clock{t0: now.Add(lead), mono0: m1 + (m2-m1)/2 + int64(lead)}
}

func (c *clock) since() time.Duration { return time.Since(c.t0) }

// plan is one client's part of the run.
type plan struct {
	client  Client
	open    bool
	pacer   Pacer
	k, n    uint64
	workers int
	// local slot bounds of the measured window: slots [lWarm, lEnd) of this
	// generator's sequence are due in it.
	lWarm, lEnd uint64
	// next is the next slot of the shared dispatch: the first idle worker
	// takes it.
	next  atomic.Uint64
	rec   *clientRec
	conns *connStats
	// stopT is when the run stopped sending (the end of the window when it
	// ran to its end), for the count of overdue slots never sent.
	stopT time.Duration
}

// unsent counts the slots of the window that were due before the run
// stopped and were never sent: every sent slot of the window is recorded,
// so it is the overdue slots less the requests.
func (p *plan) unsent(requests int64) int64 {
	if !p.open {
		return 0
	}
	due := min(localBefore(slotsBefore(p.pacer, p.stopT+1), p.k, p.n), p.lEnd)
	if due <= p.lWarm {
		return 0
	}
	return max(int64(due-p.lWarm)-requests, 0)
}

// localBefore converts a global slot count into this generator's: the
// number of its slots i with i·n + k < g.
func localBefore(g, k, n uint64) uint64 {
	if g <= k {
		return 0
	}
	return (g - k + n - 1) / n
}

// Run runs the load described by cfg and returns what it measured.
//
// Before the schedule starts, Run opens a connection to every endpoint and
// sends one request (not recorded); if every one of those fails (refused,
// untrusted, no answer within the request timeout) it returns an error
// wrapping ErrUnreachable. Then it opens every worker's connections, timed
// as set-ups, and only then starts the clock, so no handshake falls in the
// measured window. Errors during the run are counted, never fatal. When ctx
// is cancelled the run stops at once and returns a partial Result with what
// was measured — requests in flight count as cancelled with their elapsed
// time — and a nil error; PartialReason says why.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	step, drain := cfg.Interval, cfg.Drain
	if step == 0 {
		step = DefaultInterval
	}
	if drain == 0 {
		drain = DefaultDrain
	}
	limit := cfg.MaxDuration
	if limit == 0 {
		limit = cfg.Warmup + cfg.Duration + drain
	}

	k, n := cfg.Share.norm()
	warm, end := cfg.Warmup, cfg.Warmup+cfg.Duration
	plans := make([]*plan, len(cfg.Clients))
	recs := make([]*clientRec, len(cfg.Clients))
	for i, c := range cfg.Clients {
		p := &plan{client: c, pacer: c.Pacer, k: k, n: n, workers: c.Connections * max(c.Streams, 1), conns: newConnStats()}
		if p.pacer == nil {
			p.pacer = ClosedLoop()
		}
		p.open = !isClosed(p.pacer)
		if p.open {
			p.lWarm = localBefore(slotsBefore(p.pacer, warm), k, n)
			p.lEnd = localBefore(slotsBefore(p.pacer, end), k, n)
		}
		rec := &clientRec{fig: newFigures(true)}
		for range shardCount(p.workers) {
			rec.shards = append(rec.shards, newShard())
		}
		p.rec, recs[i], plans[i] = rec, rec, p
	}
	first, err := probe(ctx, cfg.Clients, plans, cfg.Notify)
	if err != nil {
		return nil, err
	}

	var workers []*worker
	for ci, p := range plans {
		for w := range p.workers {
			wk := &worker{
				id: w, plan: p,
				eps:   p.client.Endpoints,
				conns: make([]Conn, len(p.client.Endpoints)),
				next:  w % len(p.client.Endpoints),
				shard: p.rec.shards[w%len(p.rec.shards)],
				warm:  warm, end: end,
			}
			if w == 0 {
				copy(wk.conns, first[ci])
			}
			workers = append(workers, wk)
		}
	}
	openAll(ctx, workers)
	if ctx.Err() != nil {
		for _, w := range workers {
			for _, c := range w.conns {
				if c != nil {
					c.Close()
				}
			}
		}
		return nil, fmt.Errorf("stopped before the start: %w", context.Cause(ctx))
	}
	col := newCollector(recs, step, intervalsPerStep)

	// The workers' context: cancelled by the caller, or when the drain
	// period after the window or the hard limit runs out.
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)

	clk := newClock(startLead)
	user0, sys0 := processCPU()
	stopAt := func(at time.Duration, cause error) func() bool {
		return time.AfterFunc(time.Until(clk.t0.Add(at)), func() { stop(cause) }).Stop
	}
	if limit < end+drain {
		defer stopAt(limit, ErrMaxDuration)()
	} else {
		defer stopAt(end+drain, errDrainExpired)()
	}

	var wg sync.WaitGroup
	for _, wk := range workers {
		wk.clk = clk
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk.run(runCtx)
		}()
	}

	done := make(chan struct{})
	var finish time.Duration
	colErr := make(chan error, 1)
	go func() { colErr <- col.run(clk, warm, cfg.Duration, cfg.Progress, done, &finish) }()
	wg.Wait()
	user1, sys1 := processCPU()
	cancelled := ctx.Err() != nil
	finish = clk.since()
	stopT := finish // when the run stopped, for the count of overdue slots
	if runCtx.Err() == nil {
		stopT = end
		// A completed window lasts at least its duration, though its last
		// response may come before the end: the schedule spans all of it.
		finish = max(finish, end)
	}
	close(done)
	if err := <-colErr; err != nil {
		return nil, fmt.Errorf("collect figures: %w", err)
	}
	// Rates divide by the time requests were being sent, not by the time
	// until the last answer: with 50 ms answers a 1 s window would
	// otherwise read 5% below the rate actually sent. A window that ran to
	// its end spans at least its duration; one that fell behind its
	// schedule spans until its last send.
	span := max(finish-warm, 0)
	if !cancelled {
		var lastSend time.Duration
		for _, wk := range workers {
			lastSend = max(lastSend, wk.lastSend)
		}
		span = min(span, max(cfg.Duration, lastSend-warm))
	}
	for _, p := range plans {
		p.stopT = stopT
	}
	r := buildResult(cfg, plans, col, clk, finish, span, context.Cause(runCtx), cancelled)
	r.CPU, r.Cores = CPU{User: user1 - user0, Sys: sys1 - sys0}, runtime.GOMAXPROCS(0)
	return r, nil
}

// run drives the collector: warm-up progress, one flush per step, and a
// last flush when the workers are done (finish is their end time, set
// before done is closed).
func (c *collector) run(clk *clock, warm, duration time.Duration, progress func(Progress), done <-chan struct{}, finish *time.Duration) error {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	report := func(p Progress) {
		if progress != nil {
			p.Duration = duration
			progress(p)
		}
	}
	// Warm-up: nothing is recorded, only progress.
	for {
		now := clk.since()
		if now >= warm {
			break
		}
		t.Reset(min(c.step, warm-now))
		select {
		case <-t.C:
			if now := clk.since(); now < warm {
				report(Progress{Warmup: true, Elapsed: max(now, 0)})
			}
		case <-done:
			return c.last(*finish-warm, 0)
		}
	}
	var prev time.Duration // start of the open interval, from the window start
	next := c.step
	for {
		t.Reset(warm + next - clk.since())
		select {
		case <-t.C:
			now := clk.since() - warm
			if err := c.flush(prev, now-prev, false); err != nil {
				return err
			}
			prev, next = now, next+c.step
			iv := c.total.intervals[len(c.total.intervals)-1]
			report(Progress{Elapsed: now, Requests: c.total.n.requests, Errors: c.total.n.errors(),
				Rate: iv.ActualQPS, P99: c.total.h[0].Percentile(99)})
		case <-done:
			return c.last(*finish-warm, prev)
		}
	}
}

// last flushes the tail of the run, folding it into the previous interval
// when it is shorter than half a step.
func (c *collector) last(end, prev time.Duration) error {
	if end < prev {
		// A step's flush ran after the workers had finished, a little
		// past the end: end the series where the run ended.
		c.trim(end)
		prev = end
	}
	length := end - prev
	extend := len(c.total.intervals) > 0 && length < c.step/2
	return c.flush(prev, length, extend)
}

func buildResult(cfg Config, plans []*plan, col *collector, clk *clock, finish, span time.Duration, cause error, cancelled bool) *Result {
	elapsed := max(finish-cfg.Warmup, 0)
	start := clk.t0.Add(cfg.Warmup)
	r := &Result{
		Start: start.Round(0), End: start.Add(elapsed).Round(0), Elapsed: elapsed, Span: span,
		Duration: cfg.Duration, Warmup: cfg.Warmup, Share: cfg.Share,
	}
	r.Total.Name = "total"
	var unsent int64
	for i, p := range plans {
		f := Figures{
			Name: p.client.Name, Pacer: p.pacer.String(), OpenLoop: p.open, Workers: p.workers,
			Scheduled: int64(p.lEnd - p.lWarm),
		}
		if f.Name == "" {
			f.Name = fmt.Sprintf("client-%d", i+1)
		}
		for _, e := range p.client.Endpoints {
			f.Endpoints = append(f.Endpoints, e.URL)
		}
		if p.open && cfg.Duration > 0 {
			f.RequestedQPS = float64(f.Scheduled) / cfg.Duration.Seconds()
		}
		p.rec.fig.fill(&f, span)
		f.Unsent = p.unsent(f.Requests)
		p.conns.fill(&f.Connections)
		p.conns.fill(&r.Total.Connections)
		r.Clients = append(r.Clients, f)
		t := &r.Total
		t.Endpoints = append(t.Endpoints, f.Endpoints...)
		t.OpenLoop = t.OpenLoop || f.OpenLoop
		t.Workers += f.Workers
		t.RequestedQPS += f.RequestedQPS
		t.Scheduled += f.Scheduled
		t.Unsent += f.Unsent
		unsent += f.Unsent
	}
	if len(plans) == 1 {
		r.Total.Pacer = r.Clients[0].Pacer
	} else {
		r.Total.Pacer = fmt.Sprintf("%d clients", len(plans))
	}
	conns := r.Total.Connections
	col.total.fill(&r.Total, span)
	r.Total.Connections = conns
	cut := r.Total.ErrorReasons[ReasonCancelled] + r.Total.ErrorReasons[ReasonTimeout]
	switch {
	case cancelled:
		r.Partial, r.PartialReason = true, fmt.Sprintf("stopped after %v of %v: %v", elapsed.Round(time.Millisecond), cfg.Duration, cause)
		if unsent > 0 {
			r.PartialReason += fmt.Sprintf("; %d overdue requests were never sent", unsent)
		}
	case errors.Is(cause, ErrMaxDuration):
		r.Partial, r.PartialReason = true, fmt.Sprintf("the hard time limit (%v) ended the run with requests in flight (counted as timeouts) and %d due requests never sent", cfg.MaxDuration, unsent)
	case unsent > 0:
		r.Partial, r.PartialReason = true, fmt.Sprintf("%d requests due in the window were never sent: the run fell more than the drain period (%v) behind its schedule", unsent, cfg.drainOrDefault())
	case cause != nil && cut > 0:
		r.Partial, r.PartialReason = true, fmt.Sprintf("requests were still unanswered when the drain period (%v) ran out (counted as timeouts)", cfg.drainOrDefault())
	}
	return r
}

func (c *Config) drainOrDefault() time.Duration {
	if c.Drain == 0 {
		return DefaultDrain
	}
	return c.Drain
}
