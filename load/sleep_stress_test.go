package load

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// Every sleep wakes: many workers sleeping on their own timerfds, with the
// CPU contended, send every slot of the schedule, run after run. (A lost
// wake-up would leave a worker asleep and its slots unsent until the drain.)
func TestSleepersNeverMissAWake(t *testing.T) {
	var spin atomic.Bool
	spin.Store(true)
	for range runtime.GOMAXPROCS(0) {
		go func() {
			for spin.Load() {
				runtime.Gosched()
			}
		}()
	}
	defer spin.Store(false)
	for i := range 20 {
		res, err := Run(context.Background(), Config{
			Clients:  []Client{{Connections: 64, Pacer: mustConstant(t, 20000), Endpoints: []Endpoint{{URL: "mem://", Driver: fakeDriver{}}}}},
			Duration: 200 * time.Millisecond, Drain: time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		if f := res.Total; f.Unsent != 0 || f.Requests != f.Scheduled || res.Partial {
			t.Fatalf("run %d: %d of %d sent, %d unsent, partial %q", i, f.Requests, f.Scheduled, f.Unsent, res.PartialReason)
		}
	}
}
