package load

import (
	"sync/atomic"
	"time"
)

// plan is one client's part of the run.
type plan struct {
	client  Client
	proto   Protocol
	open    bool
	pacer   Pacer
	k, n    uint64
	workers int
	// local slot bounds of the measured window: slots [lWarm, lEnd) of this
	// generator's sequence are due in it.
	lWarm, lEnd uint64
	// next is the next slot of the shared dispatch: the first idle worker
	// takes it.
	next atomic.Uint64
	// budget is what is left of Client.Requests in a closed loop (bounded
	// set): each measured request takes one before it is sent.
	bounded bool
	budget  atomic.Int64
	rec     *clientRec
	// eps records each endpoint's figures; nil with one endpoint.
	eps   []*endpointRec
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
