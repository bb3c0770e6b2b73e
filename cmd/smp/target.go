package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/smp-project/smp/target"
	"github.com/spf13/cobra"
)

const targetLong = `Target runs the built-in workload server until interrupted (SIGINT/SIGTERM):
a service with known, controllable behaviour to put behind a mesh or to test
the load generator against.

Listeners (a bare port binds 127.0.0.1; with none given, --http :8080):
  --http   HTTP/1.1 and HTTP/2 (h2c by prior knowledge or Upgrade) on one port;
           with --tls, HTTPS with HTTP/1.1 and HTTP/2 by ALPN
  --grpc   gRPC: smp.target.v1.Echo (Echo, Stream), health and reflection
  --tcp    TCP echo          --udp   UDP echo

Behaviour, the defaults of every request; HTTP requests override them with
query parameters (/?delay=2ms&size=1024&status=200), HTTP and gRPC with
x-smp-delay, x-smp-size, x-smp-status, x-smp-error, x-smp-echo headers or
metadata. Unknown parameters are listed in the X-Smp-Unknown-Params header.
  delay   2ms                 fixed (a Go duration, up to 1h)
          uniform:1ms-3ms     uniform between the bounds
          exp:2ms             exponential with mean 2ms
          lognormal:2ms,10ms  lognormal with median 2ms and p99 10ms
          1ms:90,50ms:10      weighted list (weights are relative)
  size    response body bytes, 0 to 1073741824
  status  HTTP status 200-599 (gRPC maps it: 503 UNAVAILABLE, 404 NOT_FOUND...)
  error   P in [0,1]: fail with 500 / INTERNAL; reset:P: reset the connection
  echo    answer with the request body

Capacity: --capacity concurrent requests and/or --max-rps; beyond them up to
--queue requests wait, the rest get 503 / UNAVAILABLE at once.

Safe next to real services: whatever clients ask, memory stays bounded.
Response bodies of any size are cut from one shared buffer; echoed bodies are
capped by --max-echo and, over all connections, by --max-inflight-bytes
(beyond: 503 / RESOURCE_EXHAUSTED); HTTP/2 and gRPC connections carry at most
--max-streams streams. Timeouts on every listener stop slowloris and
non-reading clients: --header-timeout (request head), --read-timeout (body),
--write-timeout (a client that reads nothing loses its connection and capacity
slot), --idle-timeout (also TCP; gRPC pings silent connections). At --max-conns
a new connection evicts the one waiting longest for a request head. Timeouts
and evictions are counted in /_smp/stats and /metrics.

Counters: GET /_smp/stats (JSON) and /metrics (Prometheus), including, per
listener, the gaps between consecutive request arrivals (how evenly a load
generator spaces its requests): "arrival_gap_us" in the JSON,
smp_target_arrival_gap_seconds in /metrics.

Control: with --control, POST /_smp/stall?for=1s, /_smp/close,
/_smp/stats/reset (empties the arrival gaps) and /_smp/defaults?delay=...; see
GET /_smp/. Every control request needs the control token in the X-Smp-Token
header (--control-token or $SMP_TARGET_CONTROL_TOKEN, else a random one
printed at start), and any request with an Origin header (a browser) is
refused. Only loopback clients are served unless --control-remote, but behind
a proxy or a mesh sidecar every client is loopback: the token is the guard.`

// targetFlags are the command line of smp target.
type targetFlags struct {
	cfg                                  target.Config
	headerTO, readTO, writeTO, idleTO    time.Duration
	maxInFlight                          int64
	delay, size, status, errSpec         string
	echo                                 bool
	httpAddr, grpcAddr, tcpAddr, udpAddr string
}

func newTargetCmd() *cobra.Command {
	var f targetFlags
	cmd := &cobra.Command{
		Use:   "target",
		Short: "Run the built-in workload server (HTTP/1.1, HTTP/2, gRPC, TCP, UDP)",
		Long:  targetLong,
		Example: `  smp target --http :8080 --grpc :8079 --tcp :8078 --udp :8077
  smp target --http :8080 --delay lognormal:2ms,20ms --size 1024 --capacity 100 --queue 50
  smp target --http :8443 --tls --control`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config(cmd)
			if err != nil {
				return badInput(err)
			}
			// Every connection the target accepts is an open file.
			openFileLimit()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			srv, err := target.Start(ctx, cfg)
			if err != nil {
				return badInput(explainStartError(err))
			}
			srv.WriteListeners(cmd.OutOrStdout())
			<-ctx.Done()
			return srv.Close()
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.httpAddr, "http", "", "HTTP/1.1 + HTTP/2 listen address (e.g. :8080)")
	fl.StringVar(&f.grpcAddr, "grpc", "", "gRPC listen address (e.g. :8079)")
	fl.StringVar(&f.tcpAddr, "tcp", "", "TCP echo listen address (e.g. :8078)")
	fl.StringVar(&f.udpAddr, "udp", "", "UDP echo listen address (e.g. :8077)")
	fl.BoolVar(&f.cfg.TLS, "tls", false, "serve HTTPS and gRPC over TLS (self-signed for localhost unless --cert/--key)")
	fl.StringVar(&f.cfg.CertFile, "cert", "", "TLS certificate PEM file (implies --tls)")
	fl.StringVar(&f.cfg.KeyFile, "key", "", "TLS private key PEM file")
	fl.StringVar(&f.delay, "delay", "0", "response delay: 2ms, uniform:1ms-3ms, exp:2ms, lognormal:2ms,10ms or 1ms:90,50ms:10")
	fl.StringVar(&f.size, "size", "0", "response body size in bytes")
	fl.StringVar(&f.status, "status", "200", "HTTP status of an answer (200-599)")
	fl.StringVar(&f.errSpec, "error", "0", "error probability: P (status 500) or reset:P (connection reset)")
	fl.BoolVar(&f.echo, "echo", false, "answer with the request body")
	fl.IntVar(&f.cfg.Capacity, "capacity", 0, "concurrent requests served at most (0: unlimited)")
	fl.Float64Var(&f.cfg.MaxRPS, "max-rps", 0, "requests admitted per second at most (0: unlimited)")
	fl.IntVar(&f.cfg.Queue, "queue", 0, "requests that may wait beyond --capacity/--max-rps (0: reject at once)")
	fl.BoolVar(&f.cfg.Control, "control", false, "enable the /_smp/ control endpoints (stall, close, defaults, stats/reset); requests need the control token in the X-Smp-Token header")
	fl.StringVar(&f.cfg.ControlToken, "control-token", "", "the control token (at least 16 characters; default $SMP_TARGET_CONTROL_TOKEN, else a random one printed at start)")
	fl.BoolVar(&f.cfg.ControlRemote, "control-remote", false, "accept control requests from non-loopback clients (loopback is no protection behind a proxy or sidecar; the token is)")
	fl.Float64Var(&f.cfg.UDPDrop, "udp-drop", 0, "probability that a UDP datagram gets no echo")
	fl.DurationVar(&f.headerTO, "header-timeout", target.DefaultHeaderTimeout, "close a connection whose request head (from accept, or its first byte) takes longer (0: never)")
	fl.DurationVar(&f.readTO, "read-timeout", target.DefaultReadTimeout, "close a connection whose request body makes no progress for this long (0: never)")
	fl.DurationVar(&f.writeTO, "write-timeout", target.DefaultWriteTimeout, "close a connection (HTTP/2: reset a stream) whose client reads nothing of its response for this long (0: never)")
	fl.DurationVar(&f.idleTO, "idle-timeout", target.DefaultIdleTimeout, "close a connection idle between requests (TCP: between reads) this long (0: never)")
	fl.IntVar(&f.cfg.MaxConns, "max-conns", 0, "open connections at most; at the limit a new one evicts the one waiting longest for a request head (0: the descriptor limit less 64; -1: unlimited)")
	fl.IntVar(&f.cfg.MaxStreams, "max-streams", target.DefaultMaxStreams, "concurrent streams per HTTP/2 or gRPC connection")
	fl.IntVar(&f.cfg.MaxEcho, "max-echo", target.DefaultMaxEcho, "largest request body echoed, or gRPC request message, in bytes")
	fl.Int64Var(&f.maxInFlight, "max-inflight-bytes", target.DefaultMaxInFlightBytes, "request bytes held at once over all connections; beyond, 503 / RESOURCE_EXHAUSTED (0: unlimited)")
	return cmd
}

// config checks the flags and builds the target's Config; every error
// names its flag and says what is allowed.
func (f *targetFlags) config(cmd *cobra.Command) (target.Config, error) {
	cfg := f.cfg
	for _, b := range []struct{ flag, param, value string }{
		{"--delay", "delay", f.delay},
		{"--size", "size", f.size},
		{"--status", "status", f.status},
		{"--error", "error", f.errSpec},
	} {
		if err := cfg.Defaults.Set(b.param, b.value); err != nil {
			return cfg, fmt.Errorf("%s: %w", b.flag, err)
		}
	}
	cfg.Defaults.Echo = f.echo
	for _, d := range []struct {
		flag string
		v    time.Duration
		to   *time.Duration
	}{{"--header-timeout", f.headerTO, &cfg.HeaderTimeout}, {"--read-timeout", f.readTO, &cfg.ReadTimeout}, {"--write-timeout", f.writeTO, &cfg.WriteTimeout}, {"--idle-timeout", f.idleTO, &cfg.IdleTimeout}} {
		switch {
		case d.v < 0:
			return cfg, fmt.Errorf("%s %s: must be a positive duration, or 0 for none", d.flag, d.v)
		case d.v == 0:
			*d.to = -1 // none
		default:
			*d.to = d.v
		}
	}
	if cfg.MaxConns < -1 {
		return cfg, fmt.Errorf("--max-conns %d: must be positive, 0 (from the descriptor limit) or -1 (unlimited)", cfg.MaxConns)
	}
	if cfg.MaxStreams < 1 {
		return cfg, fmt.Errorf("--max-streams %d: must be at least 1", cfg.MaxStreams)
	}
	if cfg.MaxEcho < 1 {
		return cfg, fmt.Errorf("--max-echo %d: must be at least 1 byte", cfg.MaxEcho)
	}
	switch {
	case f.maxInFlight < 0:
		return cfg, fmt.Errorf("--max-inflight-bytes %d: must be positive, or 0 for unlimited", f.maxInFlight)
	case f.maxInFlight == 0:
		cfg.MaxInFlightBytes = -1
	default:
		cfg.MaxInFlightBytes = f.maxInFlight
	}
	if cfg.ControlToken != "" && !cfg.Control {
		return cfg, errors.New("--control-token: given without --control")
	}
	if cfg.ControlToken == "" && cfg.Control {
		cfg.ControlToken = os.Getenv("SMP_TARGET_CONTROL_TOKEN")
	}
	cfg.HTTP, cfg.GRPC, cfg.TCP, cfg.UDP = f.httpAddr, f.grpcAddr, f.tcpAddr, f.udpAddr
	anySet := false
	for _, name := range []string{"http", "grpc", "tcp", "udp"} {
		anySet = anySet || cmd.Flags().Changed(name)
	}
	if !anySet {
		cfg.HTTP = ":8080"
	}
	for _, a := range []struct {
		flag string
		addr *string
	}{{"--http", &cfg.HTTP}, {"--grpc", &cfg.GRPC}, {"--tcp", &cfg.TCP}, {"--udp", &cfg.UDP}} {
		if *a.addr == "" {
			continue
		}
		n, err := target.NormalizeAddr(*a.addr)
		if err != nil {
			return cfg, fmt.Errorf("%s: %w", a.flag, err)
		}
		*a.addr = n
	}
	if cfg.HTTP == "" && cfg.GRPC == "" && cfg.TCP == "" && cfg.UDP == "" {
		return cfg, errors.New("no listener: give at least one of --http, --grpc, --tcp, --udp an address")
	}
	return cfg, nil
}

// targetFlagOf maps Config fields and listener protocols to their flags.
func targetFlagOf(field string) string {
	switch field {
	case "HTTP", "http":
		return "--http"
	case "GRPC", "grpc":
		return "--grpc"
	case "TCP", "tcp":
		return "--tcp"
	case "UDP", "udp":
		return "--udp"
	case "Capacity":
		return "--capacity"
	case "MaxRPS":
		return "--max-rps"
	case "Queue":
		return "--queue"
	case "UDPDrop":
		return "--udp-drop"
	case "CertFile", "KeyFile":
		return "--cert/--key"
	case "ControlToken":
		return "--control-token"
	case "MaxStreams":
		return "--max-streams"
	case "MaxEcho":
		return "--max-echo"
	}
	return "--" + field
}

// explainStartError rewrites the target's errors in terms of flags.
func explainStartError(err error) error {
	var le *target.ListenError
	if errors.As(err, &le) {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%s %s: address already in use: another process listens there; stop it or choose another port (:0 picks a free one)", targetFlagOf(le.Protocol), le.Addr)
		}
		return fmt.Errorf("%s %s: %w", targetFlagOf(le.Protocol), le.Addr, le.Err)
	}
	var ce *target.ConfigError
	if errors.As(err, &ce) {
		return fmt.Errorf("%s: %w", targetFlagOf(ce.Field), ce.Err)
	}
	return err
}
