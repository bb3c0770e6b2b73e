package load

import (
	"strconv"
	"time"

	"github.com/smp-project/smp/hist"
)

// clientRec is one client's recording state.
type clientRec struct {
	shards []*shard
	fig    *figures
}

// collector turns the shards' figures into per-interval series and run
// totals. It alone touches the figures; workers touch only shards.
type collector struct {
	// latency: progress snapshots carry a copy of the latency histogram
	latency bool
	clients []*clientRec
	total   *figures
	// names are the clients' names and rate the requested rate at an
	// offset from the start of the run, for progress.
	names, codes []string
	rate         func(time.Duration) float64
	// spare histograms swapped into a shard while its own are merged, so a
	// shard's lock is held for a pointer swap, not a merge.
	spare   [numHists]*hist.Histogram
	spareN  *counters
	step    time.Duration
	atStep  int // intervals recorded at the current step
	perStep int // intervals after which the step doubles
}

func newCollector(clients []*clientRec, step time.Duration, perStep int) *collector {
	return &collector{
		clients: clients, total: newFigures(true), step: step, perStep: perStep, spareN: &counters{},
		spare: [numHists]*hist.Histogram{hist.New(), hist.New(), hist.New(), hist.New()},
	}
}

// flush closes the interval [offset, offset+length) of the measured window.
func (c *collector) flush(offset, length time.Duration, extend bool) error {
	if !extend {
		c.total.startInterval()
		for _, cr := range c.clients {
			cr.fig.startInterval()
		}
	}
	for _, cr := range c.clients {
		for _, s := range cr.shards {
			s.mu.Lock()
			full := s.histograms()
			s.setHistograms(c.spare)
			c.spare = full
			s.n, c.spareN = c.spareN, s.n
			s.mu.Unlock()
			if err := cr.fig.absorb(c.spare, c.spareN); err != nil {
				return err
			}
			if err := c.total.absorb(c.spare, c.spareN); err != nil {
				return err
			}
			for _, h := range c.spare {
				h.Reset()
			}
			*c.spareN = counters{}
		}
		cr.fig.closeInterval(offset, length, extend)
	}
	c.total.closeInterval(offset, length, extend)
	if !extend {
		// The series stays bounded whatever the duration: after perStep
		// intervals at one step the step doubles, so a run of any length
		// keeps O(perStep · log(duration)) entries.
		c.atStep++
		if c.atStep >= c.perStep {
			c.atStep = 0
			c.step *= 2
		}
	}
	return nil
}

// trim makes the series end at end, shortening the last interval.
func (c *collector) trim(end time.Duration) {
	for _, f := range c.all() {
		if n := len(f.intervals); n > 0 {
			iv := &f.intervals[n-1]
			iv.Length = max(end-iv.Offset, 0)
			if iv.Length > 0 {
				iv.ActualQPS = float64(iv.Requests) / iv.Length.Seconds()
			}
		}
	}
}

// all returns every figures the collector keeps: the clients' and the total.
func (c *collector) all() []*figures {
	out := []*figures{c.total}
	for _, cr := range c.clients {
		out = append(out, cr.fig)
	}
	return out
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
			select {
			case <-done:
				// Both were ready and the timer won the draw: the run is
				// over, and its end, not this late tick, closes the series.
				return c.last(*finish-warm, prev)
			default:
			}
			now := clk.since() - warm
			if err := c.flush(prev, now-prev, false); err != nil {
				return err
			}
			prev, next = now, next+c.step
			if progress != nil {
				report(c.progress(now, warm))
			}
		case <-done:
			return c.last(*finish-warm, prev)
		}
	}
}

// progress is the snapshot of the figures so far, now into the window.
func (c *collector) progress(now, warm time.Duration) Progress {
	t := c.total
	p := Progress{Elapsed: now, Requests: t.n.requests, Errors: t.n.errors(),
		P99: t.h[0].Percentile(99), ErrorReasons: map[string]int64{}}
	if c.latency {
		p.Latency = t.h[0].Clone()
	}
	if n := len(t.intervals); n > 0 {
		p.Rate = t.intervals[n-1].ActualQPS
	}
	if c.rate != nil {
		p.RequestedRate = c.rate(warm + now)
	}
	for r, v := range t.n.reasons {
		if v > 0 {
			p.ErrorReasons[reasonName(r)] = v
		}
	}
	for i, cr := range c.clients {
		codes := "http"
		if i < len(c.codes) && c.codes[i] != "" {
			codes = c.codes[i]
		}
		n := &cr.fig.n
		for code, v := range n.failures {
			if v > 0 {
				p.ErrorReasons[codes+"_"+strconv.Itoa(code)] += v
			}
		}
		for code, v := range n.otherFailures {
			if v > 0 {
				p.ErrorReasons[codes+"_"+strconv.Itoa(code)] += v
			}
		}
		cp := ClientProgress{Requests: cr.fig.n.requests, Errors: cr.fig.n.errors()}
		if i < len(c.names) {
			cp.Name = c.names[i]
		}
		p.Clients = append(p.Clients, cp)
	}
	return p
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
