package agent

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/smprun"
	"github.com/smp-project/smp/spec"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

// Defaults of a Coordinator.
const (
	// DefaultLead is how far ahead of now the agents' common start is
	// set: time for the run request to arrive, the probe, and every
	// agent's connections to open.
	DefaultLead = 2 * time.Second
	// DefaultHeartbeat is how long an agent may stay silent before it is
	// counted lost (it sends a heartbeat every 500 ms).
	DefaultHeartbeat = 3 * time.Second
	// clockSamples is how many exchanges estimate each agent's clock.
	clockSamples = 8
	// callTimeout bounds Info and each clock exchange.
	callTimeout = 3 * time.Second
)

// Coordinator runs a test on remote agents, each a share of the schedule.
type Coordinator struct {
	// Agents are the agents' host:port addresses.
	Agents []string
	// Token is sent with every call (SMP_AGENT_TOKEN).
	Token string
	// CAFile trusts the agents' certificates (for a self-signed agent,
	// its own PEM); Insecure skips verification instead.
	CAFile   string
	Insecure bool
	// CertFile and KeyFile are the coordinator's client certificate, for
	// agents that require mutual TLS.
	CertFile, KeyFile string
	// TLS, if set, is used as is instead of CAFile, Insecure, CertFile
	// and KeyFile: a launcher's per-run certificates live in memory only,
	// and name the agents by a server name rather than their addresses.
	TLS *tls.Config
	// Lead and Heartbeat: 0 for DefaultLead and DefaultHeartbeat.
	Lead, Heartbeat time.Duration
	// Notify, if set, gets messages for people (an agent lost).
	Notify func(string)
}

// agentConn is one agent during a run.
type agentConn struct {
	addr string
	conn *grpc.ClientConn
	info InfoReply
	// clock offset (agent − coordinator) and its uncertainty
	offset, uncertainty time.Duration

	mu       sync.Mutex
	last     Progress
	lastSeen time.Time
	result   *load.Result
	err      error
	errEvent *RunEvent
	lost     bool
	lostAt   time.Duration
	lostWhy  string
	cancel   context.CancelFunc
}

func (c *Coordinator) creds() (credentials.TransportCredentials, error) {
	if c.TLS != nil {
		return credentials.NewTLS(c.TLS.Clone()), nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case c.CAFile != "":
		pool, err := certPool(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: --agent-ca: %v", load.ErrInvalid, err)
		}
		cfg.RootCAs = pool
	case c.Insecure:
		cfg.InsecureSkipVerify = true
	}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: agent client certificate: %v", load.ErrInvalid, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return credentials.NewTLS(cfg), nil
}

// token is the per-call credential; it requires TLS.
type token string

func (t token) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(t)}, nil
}
func (token) RequireTransportSecurity() bool { return true }

// Runner returns c as a smprun.Runner.
func (c *Coordinator) Runner() smprun.Runner { return c.Run }

// Run runs cfg on the agents: agent k of n takes slots k, k+n, ... of the
// schedule, all start at one instant, and their results merge into one.
// An agent that cannot be reached, refuses the credentials, or runs
// another version stops the test before any load (an error not wrapping
// load.ErrInvalid: "could not run"). An agent lost during the run leaves
// a partial result of the others, which says which, when, and how much
// of its share went unsent.
func (c *Coordinator) Run(ctx context.Context, cfg *spec.PerformanceTestConfig, po smprun.PlanOptions) (*load.Result, error) {
	if len(c.Agents) == 0 {
		return nil, fmt.Errorf("%w: no agents", load.ErrInvalid)
	}
	creds, err := c.creds()
	if err != nil {
		return nil, err
	}
	cfgJSON, err := protojson.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: encode the config: %v", load.ErrInvalid, err)
	}
	agents := make([]*agentConn, len(c.Agents))
	for i, addr := range c.Agents {
		opts := []grpc.DialOption{grpc.WithTransportCredentials(creds), grpc.WithDefaultCallOptions(grpc.ForceCodecV2(jsonCodec{}))}
		if c.Token != "" {
			opts = append(opts, grpc.WithPerRPCCredentials(token(c.Token)))
		}
		conn, err := grpc.NewClient(addr, opts...)
		if err != nil {
			return nil, fmt.Errorf("%w: agent %s: %v", load.ErrInvalid, addr, err)
		}
		defer conn.Close()
		agents[i] = &agentConn{addr: addr, conn: conn}
	}
	if err := c.check(ctx, agents); err != nil {
		return nil, err
	}

	lead, beat := c.Lead, c.Heartbeat
	if lead <= 0 {
		lead = DefaultLead
	}
	if beat <= 0 {
		beat = DefaultHeartbeat
	}
	start := time.Now().Add(lead)
	// The streams do not end with ctx: when the caller stops the run, the
	// agents are told to stop, and their streams bring back what they
	// measured (partial). A stream ends early only for a lost agent.
	runCtx, cancelAll := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelAll()
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
			c.stopAgents(agents, context.Cause(ctx))
		case <-stopped:
		}
	}()
	var wg sync.WaitGroup
	progress := &merger{agents: agents, out: po.Progress}
	for k, a := range agents {
		actx, cancel := context.WithCancel(runCtx)
		a.cancel = cancel
		a.lastSeen = time.Now()
		req := &RunRequest{Config: cfgJSON, ShareIndex: k, ShareCount: len(agents),
			Start: start.Add(a.offset).UnixNano(), MaxDuration: po.MaxDuration}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cancel()
			c.stream(actx, a, req, start, progress)
		}()
	}
	// The watchdog: an agent silent for longer than the heartbeat allows
	// is lost; its stream is cancelled and the others go on.
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(beat / 10)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				for _, a := range agents {
					a.mu.Lock()
					if a.result == nil && a.err == nil && !a.lost && now.Sub(a.lastSeen) > beat {
						a.markLost(start, fmt.Sprintf("silent for %v", now.Sub(a.lastSeen).Round(time.Millisecond)))
						a.cancel()
					}
					a.mu.Unlock()
				}
			}
		}
	}()
	wg.Wait()
	close(done)
	return c.finish(ctx, agents, cfg, start)
}

// check asks every agent for its version and estimates its clock.
func (c *Coordinator) check(ctx context.Context, agents []*agentConn) error {
	errs := make([]error, len(agents))
	var wg sync.WaitGroup
	for i, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = a.check(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, a := range agents {
		if a.info.Version != smprun.Version() {
			return fmt.Errorf("agent %s runs smp %s, this is %s: run the same version everywhere", a.addr, a.info.Version, smprun.Version())
		}
	}
	return nil
}

func (a *agentConn) check(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if err := a.conn.Invoke(cctx, "/"+ServiceName+"/Info", &InfoRequest{}, &a.info); err != nil {
		return fmt.Errorf("agent %s: %s", a.addr, explain(err))
	}
	best := time.Duration(-1)
	for range clockSamples {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		var r ClockReply
		t1 := time.Now()
		err := a.conn.Invoke(cctx, "/"+ServiceName+"/Clock", &ClockRequest{}, &r)
		t4 := time.Now()
		cancel()
		if err != nil {
			return fmt.Errorf("agent %s: clock: %s", a.addr, explain(err))
		}
		// NTP: offset = ((t2 − t1) + (t3 − t4)) / 2, delay = (t4 − t1) − (t3 − t2);
		// the sample with the least delay bounds the offset best.
		delay := t4.Sub(t1) - time.Duration(r.Sent-r.Received)
		if best < 0 || delay < best {
			best = delay
			a.offset = (time.Duration(r.Received-t1.UnixNano()) + time.Duration(r.Sent-t4.UnixNano())) / 2
		}
	}
	a.uncertainty = max(best, 0) / 2
	return nil
}

// stopAgents tells every agent to stop its run (the caller stopped the
// test); each still returns its partial result.
func (c *Coordinator) stopAgents(agents []*agentConn, cause error) {
	var wg sync.WaitGroup
	for _, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			defer cancel()
			var r StopReply
			_ = a.conn.Invoke(ctx, "/"+ServiceName+"/Stop", &StopRequest{Reason: fmt.Sprint(cause)}, &r)
		}()
	}
	wg.Wait()
}

// explain turns a call's error into what to do about it.
func explain(err error) string {
	st, _ := status.FromError(err)
	msg := st.Message()
	switch {
	case st.Code() == codes.Unauthenticated:
		return "refused the credentials (" + msg + "): give the agent's token in SMP_AGENT_TOKEN"
	case strings.Contains(msg, "certificate") || strings.Contains(msg, "x509") || strings.Contains(msg, "tls:"):
		return "TLS failed (" + msg + "): pass --agent-ca FILE with the agent's certificate or CA (or --agent-insecure), and --agent-cert/--agent-key if it requires a client certificate"
	case st.Code() == codes.DeadlineExceeded:
		return fmt.Sprintf("no answer within %v: is the agent running at that address?", callTimeout)
	case st.Code() == codes.Unavailable:
		return "unreachable (" + msg + "): is the agent running at that address?"
	}
	return msg
}

// stream runs one agent's share and records what it sends.
func (c *Coordinator) stream(ctx context.Context, a *agentConn, req *RunRequest, start time.Time, m *merger) {
	desc := &grpc.StreamDesc{StreamName: "Run", ServerStreams: true}
	fail := func(err error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.result != nil || a.lost || a.err != nil {
			return
		}
		// A broken stream once the run has started is a lost agent (killed,
		// its machine or the network gone); before that, it could not run.
		if time.Now().After(start) {
			a.markLost(start, "stream broken: "+explain(err))
			return
		}
		a.err = fmt.Errorf("agent %s: %s", a.addr, explain(err))
	}
	st, err := a.conn.NewStream(ctx, desc, "/"+ServiceName+"/Run")
	if err != nil {
		fail(err)
		return
	}
	if err := st.SendMsg(req); err != nil {
		fail(err)
		return
	}
	if err := st.CloseSend(); err != nil {
		fail(err)
		return
	}
	for {
		var ev RunEvent
		if err := st.RecvMsg(&ev); err != nil {
			if err == io.EOF {
				err = errors.New("the stream ended without a result")
			}
			fail(err)
			return
		}
		a.mu.Lock()
		a.lastSeen = time.Now()
		a.mu.Unlock()
		switch {
		case ev.Progress != nil:
			a.mu.Lock()
			a.last = *ev.Progress
			a.mu.Unlock()
			m.update()
		case ev.Error != "":
			a.mu.Lock()
			a.errEvent = &ev
			a.err = fmt.Errorf("agent %s: %s", a.addr, ev.Error)
			a.mu.Unlock()
			return
		case ev.Result != nil:
			var r load.Result
			if err := json.Unmarshal(ev.Result, &r); err != nil {
				fail(fmt.Errorf("decode its result: %w", err))
				return
			}
			a.mu.Lock()
			a.result = &r
			a.mu.Unlock()
			return
		}
	}
}

// markLost records a lost agent, when from the schedule's start (finish
// takes the warm-up off); a.mu is held.
func (a *agentConn) markLost(start time.Time, why string) {
	a.lost, a.lostWhy = true, why
	a.lostAt = max(time.Since(start), 0)
}

// finish merges what the agents returned.
func (c *Coordinator) finish(ctx context.Context, agents []*agentConn, cfg *spec.PerformanceTestConfig, start time.Time) (*load.Result, error) {
	var results []*load.Result
	var errs []error
	var invalid, unreachable bool
	for _, a := range agents {
		switch {
		case a.result != nil:
			results = append(results, a.result)
		case a.err != nil:
			errs = append(errs, a.err)
			if a.errEvent != nil {
				invalid = invalid || a.errEvent.Invalid
				unreachable = unreachable || a.errEvent.Unreachable
			}
		}
	}
	if len(errs) > 0 && (len(results) == 0 || invalid) {
		err := errors.Join(errs...)
		switch {
		case invalid:
			return nil, fmt.Errorf("%w: %v", load.ErrInvalid, err)
		case unreachable:
			return nil, fmt.Errorf("%w: %v", load.ErrUnreachable, err)
		}
		return nil, err
	}
	if len(results) == 0 {
		var why []string
		for _, a := range agents {
			why = append(why, a.addr+": "+a.lostWhy)
		}
		return nil, fmt.Errorf("every agent was lost: %s", strings.Join(why, "; "))
	}
	merged, err := smprun.MergeShares(results)
	if err != nil {
		return nil, err
	}
	warm, _ := time.ParseDuration(cfg.GetWarmup())
	n := len(agents)
	var lostNotes []string
	var t0s []time.Time
	for k, a := range agents {
		g := load.GeneratorShare{Address: a.addr, Share: load.Share{Index: k, Count: n},
			ClockOffset: a.offset, ClockUncertainty: a.uncertainty}
		if r := a.result; r != nil {
			g.Result = r
			g.Requests, g.Errors = r.Total.Requests, r.Total.Errors
			g.LatenessP99 = r.Total.Lateness.Percentile(99)
			g.CPUBusy = r.CPU.Busy(r.Elapsed+r.Warmup, r.Cores)
			g.Unsent = r.Total.Unsent
			t0s = append(t0s, firstSend(r).Add(-a.offset))
			var notes []string
			if g.CPUBusy > 0.8 {
				notes = append(notes, fmt.Sprintf("its CPU was %.0f%% busy", 100*g.CPUBusy))
			}
			if r.Total.OpenLoop && g.LatenessP99 > load.LateThreshold {
				notes = append(notes, fmt.Sprintf("its sends were late (lateness p99 %v)", g.LatenessP99.Round(time.Microsecond)))
			}
			if len(notes) > 0 {
				g.Note = "saturated: " + strings.Join(notes, ", ") + "; add agents or give it more CPU"
			}
			if r.Partial {
				g.Note = strings.TrimPrefix(g.Note+"; partial: "+r.PartialReason, "; ")
			}
		} else {
			g.Lost = true
			g.LostAt = max(a.lostAt-warm, 0)
			g.Requests, g.Errors = a.last.Requests, a.last.Errors
			g.Unsent = c.unsentShare(cfg, k, n, g.Requests)
			g.Note = a.lostWhy
			lostNotes = append(lostNotes, fmt.Sprintf("agent %s (share %d of %d) lost at %.1fs (%s): about %d of its scheduled requests unsent, its figures missing",
				a.addr, k+1, n, g.LostAt.Seconds(), a.lostWhy, g.Unsent))
			if c.Notify != nil {
				c.Notify(lostNotes[len(lostNotes)-1])
			}
		}
		merged.Generators = append(merged.Generators, g)
	}
	if len(t0s) > 0 {
		sort.Slice(t0s, func(i, j int) bool { return t0s[i].Before(t0s[j]) })
		for i, a := range agents {
			if r := a.result; r != nil {
				merged.Generators[i].StartOffset = firstSend(r).Add(-a.offset).Sub(t0s[0])
			}
		}
	}
	if len(lostNotes) > 0 {
		merged.Partial = true
		reason := strings.Join(lostNotes, "; ")
		if merged.PartialReason != "" {
			reason += "; " + merged.PartialReason
		}
		merged.PartialReason = reason
	}
	if ctx.Err() != nil && !merged.Partial {
		merged.Partial, merged.PartialReason = true, "stopped: "+context.Cause(ctx).Error()
	}
	return merged, nil
}

// firstSend is when a share's first request went out, on its clock.
func firstSend(r *load.Result) time.Time { return r.T0.Add(max(r.FirstSend, 0)) }

// unsentShare is how many requests of share k of n the schedule had due
// in the window beyond sent (0 for a closed loop, which has no schedule).
func (c *Coordinator) unsentShare(cfg *spec.PerformanceTestConfig, k, n int, sent int64) int64 {
	due, err := smprun.ScheduledShare(cfg, load.Share{Index: k, Count: n})
	if err != nil {
		return 0
	}
	return max(due-sent, 0)
}

// merger merges the agents' latest progress into one snapshot for the
// caller's progress line or live metrics.
type merger struct {
	mu     sync.Mutex
	agents []*agentConn
	out    func(load.Progress)
}

func (m *merger) update() {
	if m.out == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var p load.Progress
	for _, a := range m.agents {
		a.mu.Lock()
		l := a.last
		a.mu.Unlock()
		p.Warmup = p.Warmup || l.Warmup
		p.Elapsed = max(p.Elapsed, l.Elapsed)
		p.Requests += l.Requests
		p.Errors += l.Errors
		p.Rate += l.Rate
		p.RequestedRate += l.RequestedRate
		p.P99 = max(p.P99, l.P99) // the highest agent's: an upper bound of the whole's
	}
	m.out(p)
}
