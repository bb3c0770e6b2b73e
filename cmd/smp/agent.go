package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/smp-project/smp/agent"
	"github.com/spf13/cobra"
)

const agentLong = `Agent serves load generation to a coordinator: smp run --agents
HOST:PORT,... gives each agent a share of one schedule (agent k of n sends
slots k, k+n, ...), starts them all at one instant and merges their results
exactly. Run one agent per machine (or per CPU budget).

Every connection is TLS and every call authenticated: set SMP_AGENT_TOKEN to
the same secret here and for the coordinator, or give --client-ca to require
client certificates (mutual TLS), or both. Without --cert/--key the agent serves
a self-signed certificate; --write-cert FILE saves it for the coordinator's
--agent-ca (or the coordinator passes --agent-insecure).

Limits: --max-rate (of this agent's share), --max-duration, and --allow, the
networks its targets' addresses must be in (loopback only by default).`

func newAgentCmd() *cobra.Command {
	var (
		listen, certFile, keyFile, clientCA, writeCert string
		allow                                          []string
		cfg                                            agent.Config
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Serve load generation to a coordinator (smp run --agents)",
		Long:  agentLong,
		Example: `  SMP_AGENT_TOKEN=s3cret smp agent --listen 127.0.0.1:9901 --write-cert agent1.pem
  SMP_AGENT_TOKEN=s3cret smp run --agents 127.0.0.1:9901,127.0.0.1:9902 --agent-ca agents.pem --qps 8000 -d 30s http://127.0.0.1:8080/`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Token = os.Getenv("SMP_AGENT_TOKEN")
			cfg.CertFile, cfg.KeyFile, cfg.ClientCAFile = certFile, keyFile, clientCA
			if (certFile == "") != (keyFile == "") {
				return badInput(errors.New("--cert and --key go together"))
			}
			if cfg.MaxRate < 0 || cfg.MaxDuration < 0 {
				return badInput(errors.New("--max-rate and --max-duration must not be negative"))
			}
			for _, a := range allow {
				for _, part := range strings.Split(a, ",") {
					p, err := netip.ParsePrefix(strings.TrimSpace(part))
					if err != nil {
						return badInput(fmt.Errorf("--allow %q: want a network such as 10.0.0.0/8 or ::1/128", part))
					}
					cfg.Allow = append(cfg.Allow, p.Masked())
				}
			}
			host, _, err := net.SplitHostPort(listen)
			if err != nil {
				return badInput(fmt.Errorf("--listen %q: want HOST:PORT", listen))
			}
			cfg.Host = host
			stderr := cmd.ErrOrStderr()
			cfg.Log = func(msg string) { fmt.Fprintf(stderr, "%s smp agent: %s\n", time.Now().Format(time.RFC3339), msg) }
			srv, err := agent.NewServer(cfg)
			if err != nil {
				return badInput(err)
			}
			if writeCert != "" {
				if err := os.WriteFile(writeCert, srv.CertPEM(), 0o644); err != nil {
					return badInput(fmt.Errorf("--write-cert: %w", err))
				}
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return badInput(fmt.Errorf("--listen %s: %w", listen, err))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "agent listening on %s (TLS; %s)\n", ln.Addr(), authLine(cfg))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			go func() {
				<-ctx.Done()
				srv.Stop()
			}()
			if err := srv.Serve(ln); err != nil && ctx.Err() == nil {
				return cannotRun(err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:9901", "listen address HOST:PORT")
	f.StringVar(&certFile, "cert", "", "TLS certificate PEM `FILE` (default: self-signed)")
	f.StringVar(&keyFile, "key", "", "TLS key PEM `FILE`")
	f.StringVar(&clientCA, "client-ca", "", "require client certificates signed by a CA in this PEM `FILE` (mutual TLS)")
	f.StringVar(&writeCert, "write-cert", "", "write the certificate the agent serves to `FILE` (for the coordinator's --agent-ca)")
	f.Float64Var(&cfg.MaxRate, "max-rate", 0, "refuse a share asking more than this many requests/s (0: no limit)")
	f.DurationVar(&cfg.MaxDuration, "max-duration", time.Hour, "refuse a run whose warm-up + duration is longer (0: no limit)")
	f.StringArrayVar(&allow, "allow", nil, "networks the targets may be in, e.g. 10.0.0.0/8 (repeatable; default 127.0.0.0/8 and ::1/128)")
	return cmd
}

func authLine(cfg agent.Config) string {
	var parts []string
	if cfg.Token != "" {
		parts = append(parts, "token from SMP_AGENT_TOKEN")
	}
	if cfg.ClientCAFile != "" {
		parts = append(parts, "client certificates from "+cfg.ClientCAFile)
	}
	return "calls need " + strings.Join(parts, " and ")
}
