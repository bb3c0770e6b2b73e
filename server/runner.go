package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/smprun"
	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/store"
)

// event is one message of a run's progress stream.
type event struct {
	Name string // "progress" or "state"
	Data any
}

// progressEvent is what a browser draws each second.
type progressEvent struct {
	Run          int     `json:"run"`
	Runs         int     `json:"runs"`
	Warmup       bool    `json:"warmup"`
	ElapsedS     float64 `json:"elapsed_s"`
	DurationS    float64 `json:"duration_s"`
	Requests     int64   `json:"requests"`
	Errors       int64   `json:"errors"`
	QPS          float64 `json:"qps"`
	RequestedQPS float64 `json:"requested_qps"`
	P50          float64 `json:"p50_ms"`
	P99          float64 `json:"p99_ms"`
	Max          float64 `json:"max_ms"`
}

type stateEvent struct {
	State   store.State `json:"state"`
	Message string      `json:"message,omitempty"`
}

// active is a run the runner holds: queued or running.
type active struct {
	cancel context.CancelFunc
	mu     sync.Mutex
	subs   map[chan event]struct{}
}

// subBuffer is the events a slow stream may lag behind before it misses
// some: a browser that falls behind skips seconds rather than holding
// the run up.
const subBuffer = 32

// runner runs the API's runs one at a time, in the order they came: two
// load tests at once on one machine would measure each other.
type runner struct {
	st   store.Store
	sem  chan struct{}
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu     sync.Mutex
	active map[string]*active
}

func newRunner(st store.Store) *runner {
	ctx, stop := context.WithCancel(context.Background())
	return &runner{st: st, sem: make(chan struct{}, 1), ctx: ctx, stop: stop, active: map[string]*active{}}
}

// start stores a new run and queues it; it returns once the run is
// stored.
func (rn *runner) start(ctx context.Context, r *store.Run, runs int) error {
	rn.mu.Lock()
	if len(rn.active) >= QueueLimit {
		rn.mu.Unlock()
		return errQueueFull
	}
	rn.mu.Unlock()
	r.State = store.Queued
	if err := rn.st.CreateRun(ctx, r); err != nil {
		return err
	}
	rctx, cancel := context.WithCancel(rn.ctx)
	a := &active{cancel: cancel, subs: map[chan event]struct{}{}}
	rn.mu.Lock()
	rn.active[r.ID] = a
	rn.mu.Unlock()
	rn.wg.Add(1)
	go func() {
		defer rn.wg.Done()
		defer cancel()
		rn.run(rctx, a, r, runs)
	}()
	return nil
}

var errQueueFull = fmt.Errorf("%d runs are queued already: wait for them or cancel some", QueueLimit)

// run waits for its turn, runs, and stores the outcome.
func (rn *runner) run(ctx context.Context, a *active, r *store.Run, runs int) {
	// The final state is stored before the run leaves the active map, so
	// that a stream that finds it gone finds it final in the store.
	finish := func(state store.State, res *spec.PerformanceTestResult, msg string) {
		if err := rn.st.FinishRun(context.Background(), r.ID, state, res, msg); err != nil {
			msg = fmt.Sprintf("%s; and the store failed: %v", msg, err)
		}
		a.publish(event{"state", stateEvent{State: state, Message: msg}})
		rn.mu.Lock()
		delete(rn.active, r.ID)
		rn.mu.Unlock()
		a.closeAll()
	}
	select {
	case rn.sem <- struct{}{}:
		defer func() { <-rn.sem }()
	case <-ctx.Done():
		finish(store.Cancelled, nil, "cancelled before it started")
		return
	}
	if err := rn.st.StartRun(context.Background(), r.ID, time.Now()); err != nil {
		finish(store.Failed, nil, err.Error())
		return
	}
	a.publish(event{"state", stateEvent{State: store.Running}})
	rec := store.NewRecorder(rn.st, r.ID)
	vrs, err := smprun.RunSeries(ctx, []smprun.Variant{{Name: r.Name, Config: r.Config,
		Result: smprun.ResultOptions{Generator: smprun.ThisGenerator()}}}, smprun.SeriesOptions{
		Runs: runs,
		// Metrics, not Progress: with it the engine copies the latency
		// histogram into each second's progress, for the live p50 and
		// for the store to rebuild a run after a crash.
		Metrics: func(ri smprun.RunInfo, p load.Progress) {
			rec.Progress(ri.Run, p)
			a.publish(event{"progress", progressOf(ri, p)})
		},
	})
	recErr := rec.Close()
	var res *spec.PerformanceTestResult
	if len(vrs) > 0 {
		res = vrs[0].Result
	}
	switch {
	case res == nil:
		msg := "the run could not start"
		if err != nil {
			msg = err.Error()
		}
		if ctx.Err() != nil && err == nil {
			finish(store.Cancelled, nil, "cancelled")
			return
		}
		finish(store.Failed, nil, msg)
	case ctx.Err() != nil:
		finish(store.Cancelled, res, "cancelled; the result holds what was measured until then")
	default:
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		if recErr != nil {
			msg = errors.Join(errors.New(msg), recErr).Error()
		}
		finish(store.Done, res, msg)
	}
}

func progressOf(ri smprun.RunInfo, p load.Progress) progressEvent {
	e := progressEvent{Run: ri.Run, Runs: ri.Runs, Warmup: p.Warmup, ElapsedS: p.Elapsed.Seconds(), DurationS: p.Duration.Seconds(),
		Requests: p.Requests, Errors: p.Errors, QPS: p.Rate, RequestedQPS: p.RequestedRate, P99: msf(p.P99)}
	if h := p.Latency; h != nil && h.Count() > 0 {
		e.P50, e.P99, e.Max = msf(h.Percentile(50)), msf(h.Percentile(99)), msf(h.Max())
	}
	return e
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// cancel stops a queued or running run; false if it is not active.
func (rn *runner) cancel(id string) bool {
	rn.mu.Lock()
	a, ok := rn.active[id]
	rn.mu.Unlock()
	if ok {
		a.cancel()
	}
	return ok
}

// subscribe returns a channel of the run's events, closed after its final
// state, and false when the run is not active.
func (rn *runner) subscribe(id string) (chan event, func(), bool) {
	rn.mu.Lock()
	a, ok := rn.active[id]
	rn.mu.Unlock()
	if !ok {
		return nil, nil, false
	}
	ch := make(chan event, subBuffer)
	a.mu.Lock()
	if a.subs == nil { // finished between the two locks
		a.mu.Unlock()
		return nil, nil, false
	}
	a.subs[ch] = struct{}{}
	a.mu.Unlock()
	return ch, func() {
		a.mu.Lock()
		if _, ok := a.subs[ch]; ok {
			delete(a.subs, ch)
			close(ch)
		}
		a.mu.Unlock()
	}, true
}

func (a *active) publish(e event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for ch := range a.subs {
		select {
		case ch <- e:
		default: // a slow reader misses this one
		}
	}
}

func (a *active) closeAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for ch := range a.subs {
		close(ch)
	}
	a.subs = nil
}

// close cancels every run and waits for them to be stored.
func (rn *runner) close() {
	rn.stop()
	rn.wg.Wait()
}
