package load

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/smp-project/smp/hist"
)

// connStats counts one client's connections. Set-ups are rare next to
// requests (once per connection, and per reconnect), so one mutex does.
type connStats struct {
	mu                           sync.Mutex
	opened, failed               int64
	reconnects, reconnectsFailed int64
	setup                        *hist.Histogram
}

func newConnStats() *connStats { return &connStats{setup: hist.New()} }

// open counts a connection opened before the start.
func (c *connStats) open(took time.Duration, ok bool) {
	c.mu.Lock()
	if ok {
		c.opened++
		c.setup.Record(took)
	} else {
		c.failed++
	}
	c.mu.Unlock()
}

// reconnect counts a connection made during the run.
func (c *connStats) reconnect(took time.Duration, ok bool) {
	c.mu.Lock()
	c.reconnects++
	if ok {
		c.setup.Record(took)
	} else {
		c.reconnectsFailed++
	}
	c.mu.Unlock()
}

func (c *connStats) fill(s *ConnStats) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.Opened += c.opened
	s.Failed += c.failed
	s.Reconnects += c.reconnects
	s.ReconnectsFailed += c.reconnectsFailed
	if s.Setup == nil {
		s.Setup = hist.New()
	}
	// Both histograms have the package's one geometry: merging cannot drop.
	_ = s.Setup.Merge(c.setup)
}

// probeNotice is how long the start probe waits before it says so.
const probeNotice = time.Second

// probe opens a connection to every endpoint and sends one request, not
// recorded, so that an unreachable target is reported before the run
// starts. It returns the connections that work, [client][endpoint], for
// the first workers to reuse, and ErrUnreachable when none could connect
// (refused, no route, a failed TLS handshake or an untrusted certificate, or
// no answer within the request timeout).
// A probe still waiting after probeNotice is reported through notify.
func probe(ctx context.Context, clients []Client, plans []*plan, notify func(string)) ([][]Conn, error) {
	conns := make([][]Conn, len(clients))
	var failures []error
	reachable := false
	for ci, c := range clients {
		conns[ci] = make([]Conn, len(c.Endpoints))
		for ei, e := range c.Endpoints {
			conn, err := probeOne(ctx, e, plans[ci], notify)
			if ctx.Err() != nil {
				closeAll(conns)
				if conn != nil {
					conn.Close()
				}
				return nil, fmt.Errorf("stopped before the start: %w", context.Cause(ctx))
			}
			if err != nil && (conn == nil || IsConnectError(err)) {
				failures = append(failures, fmt.Errorf("%s: %w", e.URL, err))
				if conn != nil {
					conn.Close()
				}
				continue
			}
			reachable = true
			conns[ci][ei] = conn
		}
	}
	if !reachable {
		closeAll(conns)
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, errors.Join(failures...))
	}
	return conns, nil
}

// probeOne opens a connection to e and sends one request on it. A
// connection that opened is returned even when the request failed.
func probeOne(ctx context.Context, e Endpoint, p *plan, notify func(string)) (Conn, error) {
	if notify != nil {
		began := time.Now()
		t := time.AfterFunc(probeNotice, func() {
			notify(fmt.Sprintf("waiting for the first answer from %s (%v so far; the request timeout bounds the wait)", e.URL, time.Since(began).Round(time.Millisecond)))
		})
		defer t.Stop()
	}
	start := time.Now()
	conn, err := e.Driver.Open(ctx)
	p.conns.open(time.Since(start), err == nil)
	if err != nil {
		return nil, err
	}
	o, err := conn.Do(ctx)
	if o.Connect > 0 {
		p.conns.reconnect(o.Connect, err == nil || !IsConnectError(err))
	}
	return conn, err
}

func closeAll(conns [][]Conn) {
	for _, cs := range conns {
		for _, c := range cs {
			if c != nil {
				c.Close()
			}
		}
	}
}

// maxParallelOpens bounds how many connections are being set up at once
// before the start: enough to open thousands in a moment, few enough not to
// overflow a server's accept queue (often 128 or 4096).
const maxParallelOpens = 64

// openAll opens every worker's connections before the schedule starts, so
// that no dial or handshake falls inside the measured window; each Open is
// timed as a set-up. A connection that cannot be opened is left nil and
// opened (as a reconnect) by the worker's first request.
func openAll(ctx context.Context, workers []*worker) {
	sem := make(chan struct{}, maxParallelOpens)
	var wg sync.WaitGroup
	for _, w := range workers {
		for e := range w.conns {
			if w.conns[e] != nil {
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				wg.Wait()
				return
			}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				start := time.Now()
				c, err := w.eps[e].Driver.Open(ctx)
				if ctx.Err() != nil {
					if c != nil {
						c.Close()
					}
					return
				}
				w.plan.conns.open(time.Since(start), err == nil)
				if err == nil {
					w.conns[e] = c
				}
			}()
		}
	}
	wg.Wait()
}
