package load

import (
	"context"
	"testing"
	"time"
)

// newBenchWorker returns a worker over an in-memory Conn, its connection
// already open, as the steady state of a run has it.
func newBenchWorker(tb testing.TB, p Pacer, failAt int64) (*worker, *plan) {
	tb.Helper()
	if p == nil {
		p = ClosedLoop()
	}
	pl := &plan{pacer: p, open: !isClosed(p), n: 1, workers: 1, lEnd: 1 << 62,
		rec: &clientRec{shards: []*shard{newShard(true, nil)}, fig: newFigures(true)}, conns: newConnStats()}
	eps := []Endpoint{{URL: "mem://a", Driver: fakeDriver{failAt: failAt}}, {URL: "mem://b", Driver: fakeDriver{failAt: failAt}}}
	w := &worker{plan: pl, clk: newClock(0), eps: eps, conns: make([]Conn, len(eps)),
		shard: pl.rec.shards[0], end: time.Duration(1 << 62)}
	// Open both connections, as the first requests of a run do.
	for range eps {
		if !w.closedOnce(context.Background()) {
			tb.Fatal("closedOnce stopped")
		}
	}
	return w, pl
}

// The request loop allocates nothing per request, whether the response is
// a success or a failure, in a closed or an open loop (sleeping included).
func TestRequestLoopDoesNotAllocate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tests := []struct {
		name   string
		pacer  Pacer
		failAt int64
	}{
		{"closed loop", nil, 0},
		{"closed loop with failures", nil, 3},
		// 50,000/s: most slots need a short sleep on the timerfd.
		{"open loop", mustConstant(t, 50000), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, pl := newBenchWorker(t, tt.pacer, tt.failAt)
			if !pl.open {
				allocs := testing.AllocsPerRun(2000, func() {
					if !w.closedOnce(ctx) {
						t.Fatal("closedOnce stopped")
					}
				})
				if allocs != 0 {
					t.Errorf("%v allocations per request", allocs)
				}
				return
			}
			sl := newSleeper(w.clk, ctx.Done())
			defer sl.close()
			var i uint64
			allocs := testing.AllocsPerRun(2000, func() {
				if !w.openSlot(ctx, sl, i) {
					t.Fatal("openSlot stopped")
				}
				i++
			})
			if allocs != 0 {
				t.Errorf("%v allocations per request", allocs)
			}
			if late := w.shard.lt.Count(); late == 0 {
				t.Error("no lateness recorded")
			}
		})
	}
}

// BenchmarkClosedLoop measures the engine's own cost per request: pacing,
// endpoint rotation, timing and recording around an in-memory Conn.
func BenchmarkClosedLoop(b *testing.B) {
	w, _ := newBenchWorker(b, nil, 0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		w.closedOnce(ctx)
	}
}

// BenchmarkOpenLoopBehind measures an open-loop slot when the worker is
// behind its schedule (no sleep): the cost of catching up.
func BenchmarkOpenLoopBehind(b *testing.B) {
	w, _ := newBenchWorker(b, mustConstant(b, 1e9), 0)
	ctx := context.Background()
	sl := newSleeper(w.clk, ctx.Done())
	defer sl.close()
	time.Sleep(10 * time.Millisecond)
	b.ReportAllocs()
	var i uint64
	for b.Loop() {
		w.openSlot(ctx, sl, i)
		i++
	}
}
