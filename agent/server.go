package agent

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/smprun"
	"github.com/smp-project/smp/spec"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

// Config configures an agent.
type Config struct {
	// Token, if set, must come with every call (SMP_AGENT_TOKEN).
	Token string
	// CertFile and KeyFile are the agent's certificate; empty generates a
	// self-signed one for Host.
	CertFile, KeyFile string
	Host              string
	// ClientCAFile, if set, requires every client to present a
	// certificate signed by one of its CAs (mutual TLS).
	ClientCAFile string
	// Limits, 0 (or nil) for none: the highest rate of the agent's share
	// (requests/s), the longest warm-up + duration, and the networks the
	// targets' addresses must be in.
	MaxRate     float64
	MaxDuration time.Duration
	Allow       []netip.Prefix
	// Log, if set, is told about each run.
	Log func(string)
}

// DefaultAllow are the networks an agent sends to by default: loopback.
func DefaultAllow() []netip.Prefix {
	return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// ErrNoAuth is returned by NewServer for an agent with neither a token nor
// a client CA: it would run load for anyone who can reach it.
var ErrNoAuth = errors.New("an agent needs a token (SMP_AGENT_TOKEN) or a client CA (--client-ca), or both")

// Server is an agent: a gRPC server over TLS that runs one share at a time.
type Server struct {
	cfg     Config
	tls     *tls.Config
	certPEM []byte
	grpc    *grpc.Server
	busy    atomic.Bool
	// stopRun stops the run in progress (a coordinator's Stop: Ctrl-C on
	// its side), which then returns its partial result on its stream.
	mu      sync.Mutex
	stopRun context.CancelCauseFunc
}

// NewServer checks cfg and prepares the TLS configuration.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Token == "" && cfg.ClientCAFile == "" {
		return nil, ErrNoAuth
	}
	s := &Server{cfg: cfg, tls: &tls.Config{MinVersion: tls.VersionTLS12}}
	if cfg.CertFile != "" || cfg.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("agent certificate: %w", err)
		}
		s.tls.Certificates = []tls.Certificate{cert}
		if s.certPEM, err = os.ReadFile(cfg.CertFile); err != nil {
			return nil, err
		}
	} else {
		cert, certPEM, err := selfSigned(cfg.Host)
		if err != nil {
			return nil, fmt.Errorf("agent certificate: %w", err)
		}
		s.tls.Certificates, s.certPEM = []tls.Certificate{cert}, certPEM
	}
	if cfg.ClientCAFile != "" {
		pool, err := certPool(cfg.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("client CA: %w", err)
		}
		s.tls.ClientCAs, s.tls.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	s.grpc = grpc.NewServer(grpc.Creds(credentials.NewTLS(s.tls)), grpc.ForceServerCodecV2(jsonCodec{}),
		grpc.UnaryInterceptor(s.unaryAuth), grpc.StreamInterceptor(s.streamAuth))
	s.grpc.RegisterService(serviceDesc(), s)
	return s, nil
}

// CertPEM is the certificate the agent serves (a coordinator's --agent-ca
// for a self-signed one).
func (s *Server) CertPEM() []byte { return s.certPEM }

// Serve serves on ln until Stop.
func (s *Server) Serve(ln net.Listener) error { return s.grpc.Serve(ln) }

// Stop stops the server, cancelling a run in progress.
func (s *Server) Stop() { s.grpc.Stop() }

func (s *Server) authorized(ctx context.Context) error {
	if s.cfg.Token == "" {
		return nil // mutual TLS alone: the handshake checked the client
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		if tok, ok := strings.CutPrefix(v, "Bearer "); ok && subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.Token)) == 1 {
			return nil
		}
	}
	return status.Error(codes.Unauthenticated, "wrong or missing agent token")
}

func (s *Server) unaryAuth(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := s.authorized(ctx); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (s *Server) streamAuth(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := s.authorized(ss.Context()); err != nil {
		return err
	}
	return h(srv, ss)
}

func serviceDesc() *grpc.ServiceDesc {
	return &grpc.ServiceDesc{
		ServiceName: ServiceName,
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{
			{MethodName: "Info", Handler: func(srv any, ctx context.Context, dec func(any) error, in grpc.UnaryServerInterceptor) (any, error) {
				var req InfoRequest
				if err := dec(&req); err != nil {
					return nil, err
				}
				call := func(ctx context.Context, _ any) (any, error) { return srv.(*Server).info(), nil }
				if in == nil {
					return call(ctx, &req)
				}
				return in(ctx, &req, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/" + ServiceName + "/Info"}, call)
			}},
			{MethodName: "Stop", Handler: func(srv any, ctx context.Context, dec func(any) error, in grpc.UnaryServerInterceptor) (any, error) {
				var req StopRequest
				if err := dec(&req); err != nil {
					return nil, err
				}
				call := func(context.Context, any) (any, error) { return srv.(*Server).stop(req.Reason), nil }
				if in == nil {
					return call(ctx, &req)
				}
				return in(ctx, &req, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/" + ServiceName + "/Stop"}, call)
			}},
			{MethodName: "Clock", Handler: func(srv any, ctx context.Context, dec func(any) error, in grpc.UnaryServerInterceptor) (any, error) {
				received := time.Now().UnixNano()
				var req ClockRequest
				if err := dec(&req); err != nil {
					return nil, err
				}
				call := func(context.Context, any) (any, error) {
					return &ClockReply{Received: received, Sent: time.Now().UnixNano()}, nil
				}
				if in == nil {
					return call(ctx, &req)
				}
				return in(ctx, &req, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/" + ServiceName + "/Clock"}, call)
			}},
		},
		Streams: []grpc.StreamDesc{{StreamName: "Run", ServerStreams: true, Handler: func(srv any, ss grpc.ServerStream) error {
			var req RunRequest
			if err := ss.RecvMsg(&req); err != nil {
				return err
			}
			return srv.(*Server).run(ss, &req)
		}}},
	}
}

func (s *Server) info() *InfoReply {
	r := &InfoReply{Version: smprun.Version(), Cores: runtime.GOMAXPROCS(0), MaxRate: s.cfg.MaxRate, MaxDuration: s.cfg.MaxDuration}
	r.Host, _ = os.Hostname()
	for _, p := range s.allow() {
		r.Allow = append(r.Allow, p.String())
	}
	return r
}

func (s *Server) allow() []netip.Prefix {
	if s.cfg.Allow == nil {
		return DefaultAllow()
	}
	return s.cfg.Allow
}

func (s *Server) logf(format string, a ...any) {
	if s.cfg.Log != nil {
		s.cfg.Log(fmt.Sprintf(format, a...))
	}
}

// run runs one share and streams its progress, heartbeats and result.
func (s *Server) run(ss grpc.ServerStream, req *RunRequest) error {
	if !s.busy.CompareAndSwap(false, true) {
		return status.Error(codes.ResourceExhausted, "the agent is already running a test")
	}
	defer s.busy.Store(false)
	ctx, cancel := context.WithCancelCause(ss.Context())
	defer cancel(nil)
	s.mu.Lock()
	s.stopRun = cancel
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.stopRun = nil
		s.mu.Unlock()
	}()

	// One goroutine sends, so that progress (from the engine's goroutine,
	// which must not block) and heartbeats never interleave on the stream.
	events := make(chan *RunEvent, 4)
	sent := make(chan error, 1)
	go func() {
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		for {
			var ev *RunEvent
			select {
			case ev = <-events:
				if ev == nil {
					sent <- nil
					return
				}
			case <-tick.C:
				ev = &RunEvent{Heartbeat: true}
			}
			if err := ss.SendMsg(ev); err != nil {
				sent <- err
				for range events { // drain until closed
				}
				return
			}
			if ev.Result != nil || ev.Error != "" {
				sent <- nil
				for range events {
				}
				return
			}
		}
	}()
	finish := func(ev *RunEvent) error {
		events <- ev
		close(events)
		return <-sent
	}

	res, err := s.execute(ctx, req, func(p load.Progress) {
		select {
		case events <- &RunEvent{Progress: &Progress{Warmup: p.Warmup, Elapsed: p.Elapsed, Requests: p.Requests, Errors: p.Errors,
			Rate: p.Rate, RequestedRate: p.RequestedRate, P99: p.P99}}:
		default: // the stream is behind: the next snapshot will do
		}
	})
	if err != nil {
		s.logf("run (share %d of %d) failed: %v", req.ShareIndex+1, req.ShareCount, err)
		return finish(&RunEvent{Error: err.Error(), Invalid: errors.Is(err, load.ErrInvalid), Unreachable: errors.Is(err, load.ErrUnreachable)})
	}
	b, err := json.Marshal(res)
	if err != nil {
		return finish(&RunEvent{Error: fmt.Sprintf("encode the result: %v", err)})
	}
	s.logf("run (share %d of %d) done: %d requests, %d errors", req.ShareIndex+1, req.ShareCount, res.Total.Requests, res.Total.Errors)
	return finish(&RunEvent{Result: b})
}

// execute checks the request against the limits and runs it.
func (s *Server) execute(ctx context.Context, req *RunRequest, progress func(load.Progress)) (*load.Result, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", load.ErrInvalid, fmt.Sprintf(format, a...))
	}
	var cfg spec.PerformanceTestConfig
	if err := protojson.Unmarshal(req.Config, &cfg); err != nil {
		return nil, bad("the run's config: %v", err)
	}
	if req.ShareCount < 1 || req.ShareIndex < 0 || req.ShareIndex >= req.ShareCount {
		return nil, bad("share %d of %d is not a share", req.ShareIndex, req.ShareCount)
	}
	if err := s.checkTargets(ctx, &cfg); err != nil {
		return nil, err
	}
	start := time.Unix(0, req.Start)
	plan, err := smprun.NewPlan(ctx, &cfg, smprun.PlanOptions{
		Share: load.Share{Index: req.ShareIndex, Count: req.ShareCount}, Start: start,
		MaxDuration: req.MaxDuration, Progress: progress,
	})
	if err != nil {
		return nil, err
	}
	defer plan.Close()
	if max := s.cfg.MaxDuration; max > 0 && plan.Load.Warmup+plan.Load.Duration > max {
		return nil, bad("warm-up + duration %v is beyond this agent's limit of %v", plan.Load.Warmup+plan.Load.Duration, max)
	}
	if limit := s.cfg.MaxRate; limit > 0 {
		rate := 0.0
		for _, c := range plan.Load.Clients {
			r, ok := peakRate(c.Pacer, plan.Load.Warmup+plan.Load.Duration)
			if !ok {
				return nil, bad("client %s is a closed loop, which this agent's rate limit (%g/s) cannot bound", c.Name, limit)
			}
			rate += r / float64(req.ShareCount)
		}
		if rate > limit*(1+1e-9) {
			return nil, bad("its share asks for %.6g/s, beyond this agent's limit of %g/s", rate, limit)
		}
	}
	s.logf("run: share %d of %d, starting at %s", req.ShareIndex+1, req.ShareCount, start.Format(time.RFC3339Nano))
	return plan.Run(ctx)
}

func (s *Server) stop(reason string) *StopReply {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopRun == nil {
		return &StopReply{}
	}
	if reason == "" {
		reason = "stopped by the coordinator"
	}
	s.stopRun(errors.New(reason))
	return &StopReply{Stopped: true}
}

// peakRate is the highest rate a schedule asks for over its first d;
// false for a closed loop.
func peakRate(p load.Pacer, d time.Duration) (float64, bool) {
	if load.IsClosedLoop(p) {
		return 0, false
	}
	peak := 0.0
	const samples = 1000
	for i := 0; i <= samples; i++ {
		peak = max(peak, p.Rate(d*time.Duration(i)/samples))
	}
	return peak, true
}

// checkTargets refuses endpoints outside the allowed networks: every
// address a host name resolves to must be allowed.
func (s *Server) checkTargets(ctx context.Context, cfg *spec.PerformanceTestConfig) error {
	allow := s.allow()
	for i, c := range cfg.GetClients() {
		for j, raw := range c.GetEndpointUrls() {
			where := fmt.Sprintf("clients[%d].endpoint_urls[%d]", i, j)
			host := raw
			if u, err := url.Parse(raw); err == nil && u.Host != "" {
				host = u.Hostname()
			} else if h, _, err := net.SplitHostPort(raw); err == nil {
				host = h
			}
			addrs, err := resolve(ctx, host)
			if err != nil {
				return fmt.Errorf("%w: %s %s: %v", load.ErrInvalid, where, raw, err)
			}
			for _, a := range addrs {
				if !allowed(a, allow) {
					return fmt.Errorf("%w: %s %s: %s is outside the networks this agent may send to (%s)", load.ErrInvalid, where, raw, a, prefixes(allow))
				}
			}
		}
	}
	return nil
}

func resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	return addrs, nil
}

func allowed(a netip.Addr, allow []netip.Prefix) bool {
	for _, p := range allow {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func prefixes(ps []netip.Prefix) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.String())
	}
	return strings.Join(out, ", ")
}
