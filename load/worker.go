package load

import (
	"context"
	"errors"
	"time"
)

// worker sends one request at a time over its own connections (one per
// endpoint, all opened before the schedule starts).
//
// In an open loop the workers of a client share one dispatch: an idle
// worker takes the next slot of the schedule (plan.next), waits until it
// is due and sends it. A worker busy with a slow answer takes nothing, so
// the slots go to the others, as they would in a real client's connection
// pool; a slot waits only when every worker is busy. Workers take slots in
// order, so a taken slot is never due after a slot still untaken: no slot
// waits while a worker that could send it sleeps on a later one.
type worker struct {
	id    int
	plan  *plan
	clk   *clock
	eps   []Endpoint
	conns []Conn // one per endpoint
	next  int    // endpoint of the next request
	last  int    // endpoint of the request just sent
	shard *shard
	warm  time.Duration
	end   time.Duration
	// idle is when the worker's connection last became free: its previous
	// answer, or the start. A slot taken after it was due waited for a
	// connection from its due time until idle (saturation); the rest of its
	// delay is the generator's own (lateness).
	idle time.Duration
	// lastSend is when this worker last sent, for the rate's time span;
	// read after the worker has finished.
	lastSend time.Duration
	// firstSend is when it first sent (-1 before), for when load actually
	// began: a distributed run's start skew.
	firstSend time.Duration
}

// do sends one request to the next endpoint in turn. A connection that
// could not be opened before the start (or was closed by a failed Open) is
// opened here, counted and timed as a reconnect.
func (w *worker) do(ctx context.Context) (Outcome, error) {
	e := w.next
	w.last = e
	if w.next++; w.next == len(w.eps) {
		w.next = 0
	}
	c := w.conns[e]
	if c == nil {
		start := time.Now()
		var err error
		c, err = w.eps[e].Driver.Open(ctx)
		took := time.Since(start)
		if err != nil {
			if ctx.Err() == nil {
				w.plan.conns.reconnect(took, false)
			}
			return Outcome{}, err
		}
		w.plan.conns.reconnect(took, true)
		w.conns[e] = c
	}
	return c.Do(ctx)
}

func (w *worker) run(ctx context.Context) {
	defer func() {
		for _, c := range w.conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if w.plan.open {
		w.runOpen(ctx)
	} else {
		w.runClosed(ctx)
	}
}

// runOpen takes slots of the shared schedule until it ends or the run
// stops. A slot is sent at its due time, or at once if it is overdue; it is
// never skipped, so a stall shows as latency.
func (w *worker) runOpen(ctx context.Context) {
	p := w.plan
	sl := newSleeper(w.clk, ctx.Done())
	defer sl.close()
	unwake := context.AfterFunc(ctx, sl.wake)
	defer unwake()
	for {
		i := p.next.Add(1) - 1
		if i >= p.lEnd || !w.openSlot(ctx, sl, i) {
			return
		}
	}
}

// openSlot sends slot i (of this generator's sequence) and records it; it
// reports false when the run has stopped or the schedule has ended. This is
// the hot path of an open loop: it must not allocate.
func (w *worker) openSlot(ctx context.Context, sl *sleeper, i uint64) bool {
	p := w.plan
	due, ok := p.pacer.Due(i*p.n + p.k)
	if !ok {
		return false
	}
	if ctx.Err() != nil {
		return false
	}
	now := w.clk.since()
	if due > now {
		if !sl.sleep(due) {
			// Stopped before the slot was due: not an overdue slot.
			return false
		}
		now = sl.woke
	}
	w.lastSend = now
	if w.firstSend < 0 {
		w.firstSend = now
	}
	o, err := w.do(ctx)
	done := w.clk.since()
	if i >= p.lWarm {
		outcome := w.shard.record(due, max(due, w.idle), now, done, true, o, err, w.stopReason(ctx, err))
		if p.eps != nil {
			p.eps[w.last].record(due, now, done, outcome)
		}
	}
	w.connected(o, err)
	w.idle = done
	return ctx.Err() == nil
}

// runClosed sends requests back to back from the start of the schedule
// until the end of the window.
func (w *worker) runClosed(ctx context.Context) {
	sl := newSleeper(w.clk, ctx.Done())
	unwake := context.AfterFunc(ctx, sl.wake)
	ok := sl.sleep(0)
	unwake()
	sl.close()
	if !ok {
		return
	}
	for w.closedOnce(ctx) {
	}
}

// closedOnce sends and records one closed-loop request; it reports false at
// the end of the window or when the run has stopped. Like openSlot, it
// must not allocate.
func (w *worker) closedOnce(ctx context.Context) bool {
	if ctx.Err() != nil {
		return false
	}
	sent := w.clk.since()
	if sent >= w.end {
		return false
	}
	if p := w.plan; p.bounded && sent >= w.warm && p.budget.Add(-1) < 0 {
		return false // the request count is spent
	}
	w.lastSend = sent
	if w.firstSend < 0 {
		w.firstSend = sent
	}
	o, err := w.do(ctx)
	done := w.clk.since()
	if sent >= w.warm {
		outcome := w.shard.record(sent, sent, sent, done, false, o, err, w.stopReason(ctx, err))
		if eps := w.plan.eps; eps != nil {
			eps[w.last].record(sent, sent, done, outcome)
		}
	}
	w.connected(o, err)
	return ctx.Err() == nil
}

// connected counts a reconnect the driver made inside Do: failed when the
// request's error is the connection's (the request may also fail after a
// good reconnect).
func (w *worker) connected(o Outcome, err error) {
	if o.Connect > 0 {
		w.plan.conns.reconnect(o.Connect, err == nil || !IsConnectError(err))
	}
}

// stopReason tells a request cut short by the run stopping from one the
// target failed: when the run's context is done and the request failed, it
// returns reasonTimeout if the drain period or the hard limit ran out (the
// request was sent and never answered) and reasonCancelled if the caller
// stopped the run; otherwise -1.
func (w *worker) stopReason(ctx context.Context, err error) int {
	if err == nil || ctx.Err() == nil {
		return -1
	}
	if cause := context.Cause(ctx); errors.Is(cause, errDrainExpired) || errors.Is(cause, ErrMaxDuration) {
		return reasonTimeout
	}
	return reasonCancelled
}
