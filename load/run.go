package load

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"
)

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
		p := &plan{client: c, proto: c.Endpoints[0].Driver.Protocol(), pacer: c.Pacer, k: k, n: n,
			workers: c.Connections * max(c.Streams, 1), conns: newConnStats()}
		if p.pacer == nil {
			p.pacer = ClosedLoop()
		}
		p.open = !isClosed(p.pacer)
		if p.open {
			gWarm := slotsBefore(p.pacer, warm)
			p.lWarm = localBefore(gWarm, k, n)
			p.lEnd = localBefore(slotsBefore(p.pacer, end), k, n)
			if c.Requests > 0 {
				// The count is of the whole schedule: this share's part of
				// its first Requests slots after the warm-up.
				p.lEnd = min(p.lEnd, localBefore(gWarm+uint64(c.Requests), k, n))
			}
		} else if c.Requests > 0 {
			p.bounded = true
			p.budget.Store(shareOf(c.Requests, k, n))
		}
		rec := &clientRec{fig: newFigures(true)}
		okStatus := c.OKStatus
		if okStatus == nil {
			okStatus = DefaultOKStatus(p.proto)
		}
		ok := newOKTable(okStatus) // shared read-only by the shards
		for range shardCount(p.workers) {
			rec.shards = append(rec.shards, newShard(p.proto.Codes != "", ok))
		}
		p.rec, recs[i], plans[i] = rec, rec, p
		p.eps = newEndpointRecs(len(c.Endpoints))
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
				warm:  warm, end: end, firstSend: -1,
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
	col.latency = cfg.ProgressLatency
	for _, p := range plans {
		col.names = append(col.names, p.client.Name)
		col.codes = append(col.codes, p.proto.Codes)
	}
	col.rate = func(t time.Duration) float64 {
		var r float64
		for _, p := range plans {
			r += p.pacer.Rate(t)
		}
		return r / float64(n)
	}

	// The workers' context: cancelled by the caller, or when the drain
	// period after the window or the hard limit runs out.
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)

	lead := time.Duration(startLead)
	if !cfg.Start.IsZero() {
		// A scheduled start (one of several generators started together):
		// the schedule's t0 is that instant, however long the connections
		// took, unless they took too long.
		if lead = time.Until(cfg.Start); lead < 0 {
			for _, w := range workers {
				for _, c := range w.conns {
					if c != nil {
						c.Close()
					}
				}
			}
			return nil, fmt.Errorf("%w: the connections were open %v after the scheduled start", ErrLateStart, -lead)
		}
	}
	clk := newClock(lead)
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
	// A run whose every client spent its request count ended before its
	// duration (a cap): its window ends with it.
	counted := true
	for _, p := range plans {
		counted = counted && p.bounded && p.budget.Load() <= 0
	}
	if runCtx.Err() == nil && !counted {
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
	r.FirstSend = -1
	for _, wk := range workers {
		if wk.firstSend >= 0 && (r.FirstSend < 0 || wk.firstSend < r.FirstSend) {
			r.FirstSend = wk.firstSend
		}
	}
	return r, nil
}
