package target

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	targetpb "github.com/smp-project/smp/target/proto"
)

// Server is a running target. Its methods are safe for concurrent use.
type Server struct {
	cfg   Config
	addrs Addrs

	// baseCtx is the parent of HTTP/2 and handler request contexts; it is
	// cancelled by Close.
	baseCtx    context.Context
	cancelBase context.CancelFunc
	done       chan struct{} // closed by Close
	closeOnce  sync.Once
	closeErr   error
	wg         sync.WaitGroup

	token string // control token; "" without Control

	defaults atomic.Pointer[defaultsState]
	lim      limits
	coarse   *coarseClock // the watchdog's clock
	budget   *byteBudget  // nil: no in-flight byte limit
	adm      *admission   // nil without Capacity and MaxRPS
	stall    *stallGate
	clock    *delayClock // response delays
	conns    *connSet
	counters *counters
	gaps     [numListeners]*gapRecorder // nil for a listener that is off
	filler   []byte

	handler http.Handler // HTTP/2 and the target's pages
	metrics http.Handler
	h2      *http2.Server
	h1base  *http.Server // configuration handed to HTTP/2 connections
	tlsConf *tls.Config
	certPEM []byte

	grpc      *grpc.Server
	health    *health.Server
	listeners []net.Listener
	udp       *net.UDPConn
}

// Start opens the configured listeners and serves until Close is called or
// ctx is cancelled. It returns a *ConfigError for a bad Config and a
// *ListenError for a listener that cannot be opened (a port in use).
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.CertFile != "" || cfg.KeyFile != "" {
		cfg.TLS = true
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	lim := cfg.limits()
	coarse := newCoarseClock()
	s := &Server{
		cfg:      cfg,
		lim:      lim,
		coarse:   coarse,
		budget:   newByteBudget(lim.budget),
		done:     make(chan struct{}),
		adm:      newAdmission(cfg.Capacity, cfg.MaxRPS, cfg.Queue),
		stall:    newStallGate(),
		conns:    newConnSet(lim.maxConns, coarse),
		counters: &counters{start: time.Now()},
		gaps:     newGapRecorders(cfg),
		filler:   newFiller(),
	}
	if cfg.Control {
		s.token = cfg.ControlToken
		if s.token == "" {
			var err error
			if s.token, err = newToken(); err != nil {
				return nil, err
			}
		}
	}
	s.defaults.Store(newDefaultsState(cfg.Defaults, s.filler))
	s.baseCtx, s.cancelBase = context.WithCancel(context.WithoutCancel(ctx))
	reg, err := newRegistry(s)
	if err != nil {
		return nil, err
	}
	s.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	s.handler = httpHandler{s}
	s.h2 = &http2.Server{
		MaxConcurrentStreams: lim.maxStreams,
		IdleTimeout:          lim.idle,
		// A connection whose writes make no progress for this long is
		// closed; a stream whose client stops reading times out in
		// serveWorkloadHTTP2.
		WriteByteTimeout: lim.write,
	}
	s.h1base = &http.Server{Handler: s.handler}
	if cfg.TLS {
		if s.tlsConf, s.certPEM, err = loadTLS(cfg.CertFile, cfg.KeyFile); err != nil {
			return nil, err
		}
	}
	if err := s.listen(); err != nil {
		s.closeListeners()
		return nil, err
	}
	// After the last error return: the clock may hold a timerfd and a
	// goroutine, which Close releases.
	s.clock = newDelayClock()
	s.serve()
	go func() {
		select {
		case <-ctx.Done():
			_ = s.Close()
		case <-s.done:
		}
	}()
	return s, nil
}

// listen opens every configured listener, recording the bound addresses.
func (s *Server) listen() error {
	tcp := func(proto, addr string) (net.Listener, string, error) {
		a, _ := NormalizeAddr(addr) // validated already
		ln, err := net.Listen("tcp", a)
		if err != nil {
			return nil, "", &ListenError{Protocol: proto, Addr: a, Err: err}
		}
		s.listeners = append(s.listeners, ln)
		return ln, ln.Addr().String(), nil
	}
	var err error
	if s.cfg.HTTP != "" {
		if _, s.addrs.HTTP, err = tcp("http", s.cfg.HTTP); err != nil {
			return err
		}
	}
	if s.cfg.GRPC != "" {
		if _, s.addrs.GRPC, err = tcp("grpc", s.cfg.GRPC); err != nil {
			return err
		}
	}
	if s.cfg.TCP != "" {
		if _, s.addrs.TCP, err = tcp("tcp", s.cfg.TCP); err != nil {
			return err
		}
	}
	if s.cfg.UDP != "" {
		a, _ := NormalizeAddr(s.cfg.UDP)
		ua, err := net.ResolveUDPAddr("udp", a)
		if err != nil {
			return &ListenError{Protocol: "udp", Addr: a, Err: err}
		}
		pc, err := net.ListenUDP("udp", ua)
		if err != nil {
			return &ListenError{Protocol: "udp", Addr: a, Err: err}
		}
		s.udp = pc
		s.addrs.UDP = pc.LocalAddr().String()
	}
	return nil
}

// serve starts a goroutine per listener. The listeners were appended in
// the order HTTP, gRPC, TCP.
func (s *Server) serve() {
	i := 0
	next := func() net.Listener { ln := s.listeners[i]; i++; return ln }
	if s.cfg.HTTP != "" {
		s.wg.Add(1)
		go s.acceptLoop(next(), phaseHead, s.serveHTTP)
	}
	if s.cfg.GRPC != "" {
		s.startGRPC(next())
	}
	if s.cfg.TCP != "" {
		s.wg.Add(1)
		go s.acceptLoop(next(), phaseEcho, s.serveTCP)
	}
	if s.udp != nil {
		s.wg.Add(1)
		go s.serveUDP(s.udp)
	}
	s.wg.Add(1)
	go s.watchdog()
}

func (s *Server) startGRPC(ln net.Listener) {
	opts := []grpc.ServerOption{
		// A request message is read whole before the handler runs, so
		// what a connection can make the target hold is bounded by these
		// two: streams times message size.
		grpc.MaxRecvMsgSize(s.lim.maxEcho + 1<<10),
		grpc.MaxConcurrentStreams(s.lim.maxStreams),
		grpc.MaxSendMsgSize(MaxSize + 1<<10),
		grpc.ForceServerCodecV2(newWireCodec()),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionIdle: s.lim.idle,
			Time:              grpcKeepaliveTime,
			Timeout:           grpcKeepaliveTimeout,
		}),
	}
	if s.lim.header > 0 {
		// The connection preface and settings (and TLS handshake).
		opts = append(opts, grpc.ConnectionTimeout(s.lim.header))
	}
	if s.tlsConf != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.tlsConf.Clone())))
	}
	s.grpc = grpc.NewServer(opts...)
	s.grpc.RegisterService(echoServiceDesc(), &grpcService{s: s})
	s.health = health.NewServer()
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(targetpb.Echo_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.grpc.Serve(&trackedListener{Listener: ln, set: s.conns})
	}()
}

// acceptLoop accepts connections and serves each on its own goroutine,
// starting in phase p.
func (s *Server) acceptLoop(ln net.Listener, p phase, serve func(net.Conn)) {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait and retry, as
			// net/http does, rather than spin or give up; but no more
			// than 100 ms, so that a descriptor freed by a timeout is
			// soon used.
			backoff = min(max(2*backoff, 5*time.Millisecond), 100*time.Millisecond)
			if !sleep(backoff, nil, s.done, nil) {
				return
			}
			continue
		}
		backoff = 0
		wc := s.conns.admit(c, p)
		if wc == nil {
			if s.isClosed() {
				return
			}
			continue // full, and no connection to evict
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer wc.Close()
			serve(wc)
		}()
	}
}

// serveH2 serves an HTTP/2 connection; raw is the connection as tracked.
func (s *Server) serveH2(c, raw net.Conn, opts *http2.ServeConnOpts) {
	opts.Context = context.WithValue(s.baseCtx, connKey{}, raw)
	opts.BaseConfig = s.h1base
	opts.Handler = s.handler
	if opts.UpgradeRequest != nil {
		opts.UpgradeRequest = opts.UpgradeRequest.WithContext(opts.Context)
	}
	// ServeConn serves a connection we accepted ourselves; net/http can
	// only serve whole listeners and has no h2c Upgrade.
	s.h2.ServeConn(c, opts)
}

func (s *Server) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Addrs returns the addresses the listeners are bound to.
func (s *Server) Addrs() Addrs { return s.addrs }

// CertPEM returns the TLS certificate in PEM (to trust it in a client), or
// nil without TLS.
func (s *Server) CertPEM() []byte { return s.certPEM }

// Close stops every listener, cuts every connection, and waits for the
// serving goroutines to end. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.cancelBase()
		s.closeErr = s.closeListeners()
		if s.health != nil {
			s.health.Shutdown()
		}
		if s.grpc != nil {
			s.grpc.Stop()
		}
		s.conns.shut()
		s.wg.Wait()
		s.clock.close()
		if s.adm != nil && s.adm.timer != nil {
			s.adm.timer.Stop()
		}
	})
	return s.closeErr
}

func (s *Server) closeListeners() error {
	var errs []error
	for _, ln := range s.listeners {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if s.udp != nil {
		if err := s.udp.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("target: close listeners: %w", err)
	}
	return nil
}

// WriteListeners says what the server listens on and its defaults, a
// line per listener and one for the defaults of every request.
func (s *Server) WriteListeners(w io.Writer) {
	a := s.Addrs()
	loopback := false
	scope := func(addr string) string {
		if isLoopbackAddr(addr) {
			loopback = true
			return " (loopback only)"
		}
		return ""
	}
	if a.HTTP != "" {
		kind := "HTTP/1.1 and h2c"
		if s.cfg.TLS {
			kind = "HTTPS (HTTP/1.1 and h2)"
		}
		fmt.Fprintf(w, "http  %s%s  %s; /metrics, /_smp/stats\n", a.HTTP, scope(a.HTTP), kind)
	}
	if a.GRPC != "" {
		fmt.Fprintf(w, "grpc  %s%s  smp.target.v1.Echo, health, reflection\n", a.GRPC, scope(a.GRPC))
	}
	if a.TCP != "" {
		fmt.Fprintf(w, "tcp   %s%s  echo\n", a.TCP, scope(a.TCP))
	}
	if a.UDP != "" {
		fmt.Fprintf(w, "udp   %s%s  echo\n", a.UDP, scope(a.UDP))
	}
	if loopback {
		fmt.Fprintln(w, "loopback only: other machines and pods cannot reach such a listener; give 0.0.0.0:PORT (or [::]:PORT) to listen on every interface")
	}
	if s.token != "" {
		fmt.Fprintf(w, "control token: %s  (send it in the %s header; loopback clients only unless --control-remote)\n", s.token, TokenHeader)
	}
	b := s.Defaults()
	c := s.cfg
	fmt.Fprintf(w, "defaults: delay %s, size %d, status %d, error %g (reset %v), echo %v; capacity %d, max-rps %g, queue %d, control %v\n",
		b.Delay, b.Size, max(b.Status, 200), b.ErrorRate, b.Reset, b.Echo, c.Capacity, c.MaxRPS, c.Queue, c.Control)
	l := s.lim
	fmt.Fprintf(w, "limits: header-timeout %s, read-timeout %s, write-timeout %s, idle-timeout %s (0s: none); max-conns %d, max-streams %d, max-echo %d, max-inflight-bytes %d (0: unlimited)\n",
		l.header, l.read, l.write, l.idle, l.maxConns, l.maxStreams, l.maxEcho, l.budget)
}

// isLoopbackAddr reports whether a bound host:port is on a loopback address.
func isLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Stall holds every response back for d from now (responses already
// waiting included), replacing any stall in progress; d <= 0 ends it.
func (s *Server) Stall(d time.Duration) { s.stall.set(min(d, MaxDelay)) }

// CloseConnections closes every open connection of every listener (UDP has
// none), as a crashing or restarting server would.
func (s *Server) CloseConnections() { s.conns.closeAll(nil) }

// SetDefaults replaces the default behaviour for requests that start from
// now on.
func (s *Server) SetDefaults(b Behavior) error {
	if err := b.Validate(); err != nil {
		return fmt.Errorf("target: defaults: %w", err)
	}
	s.defaults.Store(newDefaultsState(b, s.filler))
	return nil
}

// ControlToken returns the token control requests must carry in the
// X-Smp-Token header, or "" when control is off.
func (s *Server) ControlToken() string { return s.token }

// Defaults returns the current default behaviour.
func (s *Server) Defaults() Behavior { return s.defaults.Load().b }
