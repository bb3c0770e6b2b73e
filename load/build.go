package load

import (
	"errors"
	"fmt"
	"time"
)

func buildResult(cfg Config, plans []*plan, col *collector, clk *clock, finish, span time.Duration, cause error, cancelled bool) *Result {
	elapsed := max(finish-cfg.Warmup, 0)
	start := clk.t0.Add(cfg.Warmup)
	r := &Result{
		Start: start.Round(0), End: start.Add(elapsed).Round(0), T0: clk.t0.Round(0), Elapsed: elapsed, Span: span,
		Duration: cfg.Duration, Warmup: cfg.Warmup, Share: cfg.Share,
	}
	r.Total.Name = "total"
	var unsent int64
	var totalMsgs errorMessages
	for i, p := range plans {
		f := Figures{
			Name: p.client.Name, Protocol: p.proto, Pacer: p.pacer.String(), OpenLoop: p.open, Workers: p.workers,
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
		var msgs errorMessages
		for _, s := range p.rec.shards {
			s.mu.Lock()
			msgs.merge(&s.msgs)
			s.mu.Unlock()
		}
		f.ErrorMessages = msgs.fill()
		for j, e := range p.eps {
			f.PerEndpoint = append(f.PerEndpoint, e.fill(p.client.Endpoints[j].URL, span))
		}
		totalMsgs.merge(&msgs)
		f.Unsent = p.unsent(f.Requests)
		p.conns.fill(&f.Connections)
		p.conns.fill(&r.Total.Connections)
		r.Clients = append(r.Clients, f)
		t := &r.Total
		t.Endpoints = append(t.Endpoints, f.Endpoints...)
		t.PerEndpoint = append(t.PerEndpoint, f.PerEndpoint...)
		t.OpenLoop = t.OpenLoop || f.OpenLoop
		t.Workers += f.Workers
		t.RequestedQPS += f.RequestedQPS
		t.Scheduled += f.Scheduled
		t.Unsent += f.Unsent
		unsent += f.Unsent
	}
	r.Total.Protocol = r.Clients[0].Protocol
	for _, c := range r.Clients {
		if c.Protocol != r.Total.Protocol {
			r.Total.Protocol = Protocol{} // the clients speak several
		}
	}
	if len(plans) == 1 {
		r.Total.Pacer = r.Clients[0].Pacer
	} else {
		r.Total.Pacer = fmt.Sprintf("%d clients", len(plans))
	}
	col.total.fill(&r.Total, span)
	r.Total.ErrorMessages = totalMsgs.fill()
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
