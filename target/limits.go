package target

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the limits in Config. They are what a workload server next
// to real services needs: a slowloris client (a header byte every few
// seconds) is cut after DefaultHeaderTimeout, a client that stops reading
// its response loses its capacity slot after DefaultWriteTimeout, and what
// clients can make the target hold in memory is DefaultMaxInFlightBytes
// of request bodies (response bodies are cut from one shared buffer and
// cost nothing per request).
const (
	DefaultHeaderTimeout    = 10 * time.Second
	DefaultReadTimeout      = 30 * time.Second
	DefaultWriteTimeout     = 30 * time.Second
	DefaultIdleTimeout      = 2 * time.Minute
	DefaultMaxStreams       = 100
	DefaultMaxEcho          = 16 << 20
	DefaultMaxInFlightBytes = 256 << 20
	// defaultMaxConns applies where the descriptor limit cannot be read.
	defaultMaxConns = 10_000
	// connReserve is what MaxConns leaves of RLIMIT_NOFILE for listeners,
	// the runtime's own descriptors and the odd file: a server at its
	// descriptor limit cannot even accept a connection to close it.
	connReserve = 64
	// keepBodyCap is the largest echo buffer a connection keeps between
	// requests: small echoes reuse it without allocating, a large one is
	// released with its request.
	keepBodyCap = 8 << 10
	// grpcKeepaliveTime is how long a gRPC connection may be silent before
	// the target pings it; grpcKeepaliveTimeout is how long it then waits
	// for the answer.
	grpcKeepaliveTime    = time.Minute
	grpcKeepaliveTimeout = 20 * time.Second
)

// limits are Config's limits resolved: defaults applied, 0 meaning off.
type limits struct {
	header, read, write, idle time.Duration
	maxConns                  int
	maxStreams                uint32
	maxEcho                   int
	budget                    int64
}

func (c *Config) limits() limits {
	dur := func(d, def time.Duration) time.Duration {
		switch {
		case d < 0:
			return 0
		case d == 0:
			return def
		}
		return d
	}
	l := limits{
		header:     dur(c.HeaderTimeout, DefaultHeaderTimeout),
		read:       dur(c.ReadTimeout, DefaultReadTimeout),
		write:      dur(c.WriteTimeout, DefaultWriteTimeout),
		idle:       dur(c.IdleTimeout, DefaultIdleTimeout),
		maxConns:   c.MaxConns,
		maxStreams: DefaultMaxStreams,
		maxEcho:    DefaultMaxEcho,
		budget:     c.MaxInFlightBytes,
	}
	if c.MaxStreams > 0 {
		l.maxStreams = uint32(c.MaxStreams)
	}
	if c.MaxEcho > 0 {
		l.maxEcho = c.MaxEcho
	}
	switch {
	case l.maxConns < 0:
		l.maxConns = 0
	case l.maxConns == 0:
		l.maxConns = defaultMaxConns
		if n, ok := openFileLimit(); ok {
			l.maxConns = max(16, n-connReserve)
		}
	}
	switch {
	case l.budget < 0:
		l.budget = 0
	case l.budget == 0:
		l.budget = DefaultMaxInFlightBytes
	}
	return l
}

func (c *Config) validateLimits() error {
	if c.MaxStreams < 0 || c.MaxStreams > 1<<20 {
		return &ConfigError{Field: "MaxStreams", Err: fmt.Errorf("%d: must be from 1 to %d streams per connection (0: the default %d)", c.MaxStreams, 1<<20, DefaultMaxStreams)}
	}
	if c.MaxEcho < 0 || c.MaxEcho > MaxSize {
		return &ConfigError{Field: "MaxEcho", Err: fmt.Errorf("%d: must be from 1 to %d bytes (0: the default %d)", c.MaxEcho, MaxSize, DefaultMaxEcho)}
	}
	return nil
}

// byteBudget bounds the request bytes held at once over all connections
// and protocols; nil is no bound.
type byteBudget struct {
	limit int64
	used  atomic.Int64
}

func newByteBudget(limit int64) *byteBudget {
	if limit <= 0 {
		return nil
	}
	return &byteBudget{limit: limit}
}

// take reserves n bytes, or reports false when they would exceed the
// budget.
func (b *byteBudget) take(n int64) bool {
	if b == nil || n <= 0 {
		return true
	}
	if b.used.Add(n) > b.limit {
		b.used.Add(-n)
		return false
	}
	return true
}

// give returns n bytes taken earlier.
func (b *byteBudget) give(n int64) {
	if b != nil && n > 0 {
		b.used.Add(-n)
	}
}

func (b *byteBudget) inUse() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

// phase is what a connection is doing, which decides the timeout that
// applies while it waits for its client.
type phase uint32

const (
	phaseHead phase = iota // reading a request head: HeaderTimeout from its start
	phaseIdle              // between requests: IdleTimeout; the first byte starts a head
	phaseBody              // reading a request body: ReadTimeout without progress
	phaseBusy              // the server works (delay, stall, queue): no read timeout
	phaseEcho              // TCP echo: IdleTimeout per read
	phaseMux               // HTTP/2 or gRPC: they time out idleness themselves
)

// timeoutKind names what a connection was closed for.
type timeoutKind uint8

const (
	timeoutHeader timeoutKind = iota
	timeoutBody
	timeoutWrite
	timeoutIdle
	numTimeoutKinds
)

func (k timeoutKind) String() string {
	return [...]string{"header", "body", "write", "idle"}[k]
}

// coarseClock is a clock the watchdog advances every tick, so that a
// connection stamps its reads and writes with one atomic load rather than
// a clock read: on the HTTP/1.1 fast path that is the difference between
// nothing and a tenth of the request's cost. Times are nanoseconds since
// the server started, plus one so that 0 can mean "not waiting".
type coarseClock struct {
	start time.Time
	ns    atomic.Int64
}

func newCoarseClock() *coarseClock {
	c := &coarseClock{start: time.Now()}
	c.ns.Store(1)
	return c
}

func (c *coarseClock) now() int64 { return c.ns.Load() }
func (c *coarseClock) tick()      { c.ns.Store(int64(time.Since(c.start)) + 1) }

// watchedConn is an accepted connection as the server tracks it: what it
// is doing and since when, for the watchdog that enforces the timeouts
// and for eviction when connections run short. Every accepted connection
// of every TCP listener is one.
type watchedConn struct {
	net.Conn
	set   *connSet
	clock *coarseClock
	phase atomic.Uint32
	since atomic.Int64 // when the phase began
	// readAt and writeAt are when the Read or Write in progress began,
	// 0 when none is.
	readAt, writeAt atomic.Int64
	cut             atomic.Bool // closed by the watchdog or evicted
	once            sync.Once
}

func (c *watchedConn) unwrap() net.Conn { return c.Conn }

func (c *watchedConn) Read(p []byte) (int, error) {
	c.readAt.Store(c.clock.now())
	n, err := c.Conn.Read(p)
	c.readAt.Store(0)
	if n > 0 && phase(c.phase.Load()) == phaseIdle {
		c.setPhase(phaseHead)
	}
	return n, err
}

func (c *watchedConn) Write(p []byte) (int, error) {
	c.writeAt.Store(c.clock.now())
	n, err := c.Conn.Write(p)
	c.writeAt.Store(0)
	return n, err
}

func (c *watchedConn) setPhase(p phase) {
	c.since.Store(c.clock.now())
	c.phase.Store(uint32(p))
}

// Close unregisters the connection and closes it.
func (c *watchedConn) Close() error {
	c.once.Do(func() { c.set.remove(c) })
	return c.Conn.Close()
}

// cutOff closes the connection under its server goroutine, which then sees
// a read or write error and ends as it would for a client that went away.
func (c *watchedConn) cutOff() {
	if c.cut.CompareAndSwap(false, true) {
		_ = c.Conn.Close()
	}
}

// overdue reports the timeout a connection has run past at now, if any.
func (c *watchedConn) overdue(now int64, l *limits) (timeoutKind, bool) {
	if w := c.writeAt.Load(); w != 0 && l.write > 0 && now-w > int64(l.write) {
		return timeoutWrite, true
	}
	r := c.readAt.Load()
	if r == 0 {
		return 0, false
	}
	switch phase(c.phase.Load()) {
	case phaseHead:
		if l.header > 0 && now-c.since.Load() > int64(l.header) {
			return timeoutHeader, true
		}
	case phaseIdle, phaseEcho:
		if l.idle > 0 && now-r > int64(l.idle) {
			return timeoutIdle, true
		}
	case phaseBody:
		if l.read > 0 && now-r > int64(l.read) {
			return timeoutBody, true
		}
	}
	return 0, false
}

// evictable reports a connection that waits for its client to start or
// finish a request head: the one to close when connections run short, as
// closing it loses no work.
func (c *watchedConn) evictable() bool {
	if c.cut.Load() || c.readAt.Load() == 0 {
		return false
	}
	switch phase(c.phase.Load()) {
	case phaseHead, phaseIdle, phaseEcho:
		return true
	}
	return false
}

// watchdogTick is how often the watchdog looks: an eighth of the shortest
// timeout, within [10ms, 250ms], so that a timeout fires within an eighth
// of its length (or 250 ms) late.
func (l *limits) watchdogTick() time.Duration {
	shortest := time.Duration(0)
	for _, d := range []time.Duration{l.header, l.read, l.write, l.idle} {
		if d > 0 && (shortest == 0 || d < shortest) {
			shortest = d
		}
	}
	if shortest == 0 {
		return 250 * time.Millisecond
	}
	return min(max(shortest/8, 10*time.Millisecond), 250*time.Millisecond)
}

// watchdog advances the coarse clock and closes the connections that have
// run past a timeout, until the server closes.
func (s *Server) watchdog() {
	defer s.wg.Done()
	t := time.NewTicker(s.lim.watchdogTick())
	defer t.Stop()
	var late []*watchedConn
	for {
		select {
		case <-t.C:
		case <-s.done:
			return
		}
		s.coarse.tick()
		now := s.coarse.now()
		late = late[:0]
		s.conns.mu.Lock()
		for c := range s.conns.m {
			if c.cut.Load() {
				continue
			}
			if k, ok := c.overdue(now, &s.lim); ok {
				s.counters.timeouts[k].Add(1)
				late = append(late, c)
			}
		}
		s.conns.mu.Unlock()
		for _, c := range late {
			c.cutOff()
		}
		clear(late)
	}
}
