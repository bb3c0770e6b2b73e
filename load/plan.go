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

// shareOf is share k of n's part of a count split as evenly as slots are:
// the number of i < total with i mod n == k.
func shareOf(total int64, k, n uint64) int64 {
	return int64(localBefore(uint64(total), k, n))
}

// ShareSlots is how many slots of p's schedule due in [from, to) fall to
// share s; with requests > 0, only the first requests slots from from
// count (as Client.Requests bounds a run).
func ShareSlots(p Pacer, from, to time.Duration, s Share, requests int64) int64 {
	if isClosed(p) {
		return 0
	}
	k, n := s.norm()
	g0, g1 := slotsBefore(p, from), slotsBefore(p, to)
	if requests > 0 {
		g1 = min(g1, g0+uint64(requests))
	}
	return int64(localBefore(g1, k, n) - localBefore(g0, k, n))
}
