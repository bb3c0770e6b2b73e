package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/smp-project/smp/proxy"
	"github.com/smp-project/smp/proxy/filter"
	"github.com/smp-project/smp/proxy/wasm"
	"github.com/spf13/cobra"
	"github.com/tetratelabs/wazero"
)

const proxyLong = `Proxy is a sidecar-style reverse proxy in front of one upstream: HTTP/1.1 and
HTTP/2 (h2c by prior knowledge; with --cert/--key, TLS with ALPN) with a chain
of filters, in the order given on the command line. With no filter it is
the pass-through control variant of a filter study.

--filter adds a native filter:
  ` + filter.Syntax + `

--wasm FILE adds a proxy-wasm filter (ABI 0.1.0 or 0.2.x; Rust, Go, C++
SDKs); --wasm-config STRING (its plugin configuration) and --wasm-root-id
ID apply to the --wasm before them. Request and response bodies are
buffered whole when a module has body callbacks (at most --max-body). A
module that traps fails that request (500, counted) and its VM is
replaced, as does a call still running after --wasm-timeout when one is
set; a module that does not load or start is refused (exit 2).

The time each filter takes per request is measured and served on --admin:
GET /_smp/proxy/stats (JSON), POST /_smp/proxy/stats/reset, GET /metrics.`

// chainFlag collects --filter and --wasm (with their --wasm-config and
// --wasm-root-id) in command-line order, so that the chain is that order.
type chainFlag struct {
	links *[]link
	kind  string
}

// link is one filter of the chain: a native one, parsed when its flag is
// read, or a module to load.
type link struct {
	native     filter.Filter
	wasmPath   string
	wasmConfig string
	wasmRootID string
	haveConfig bool
	haveRootID bool
}

func (f chainFlag) String() string { return "" }
func (f chainFlag) Type() string   { return "string" }

func (f chainFlag) Set(v string) error {
	links := f.links
	last := func() (*link, error) {
		if len(*links) == 0 || (*links)[len(*links)-1].wasmPath == "" {
			return nil, fmt.Errorf("%s must follow the --wasm it applies to", f.kind)
		}
		return &(*links)[len(*links)-1], nil
	}
	switch f.kind {
	case "--filter":
		nf, err := filter.Parse(v, len(*links)+1)
		if err != nil {
			return fmt.Errorf("%w\nwant %s", err, filter.Syntax)
		}
		*links = append(*links, link{native: nf})
	case "--wasm":
		if v == "" {
			return errors.New("want a .wasm file")
		}
		*links = append(*links, link{wasmPath: v})
	case "--wasm-config":
		l, err := last()
		if err != nil {
			return err
		}
		if l.haveConfig {
			return errors.New("one --wasm-config per --wasm")
		}
		l.wasmConfig, l.haveConfig = v, true
	case "--wasm-root-id":
		l, err := last()
		if err != nil {
			return err
		}
		if l.haveRootID {
			return errors.New("one --wasm-root-id per --wasm")
		}
		l.wasmRootID, l.haveRootID = v, true
	}
	return nil
}

func newProxyCmd() *cobra.Command {
	var (
		cfg         proxy.Config
		links       []link
		instances   int
		wasmTimeout time.Duration
		logLevel    string
	)
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Run a sidecar-style reverse proxy with native and proxy-wasm filters",
		Long:  proxyLong,
		Example: `  smp target --http 127.0.0.1:8080 &
  smp proxy --listen 127.0.0.1:15001 --upstream http://127.0.0.1:8080
  smp proxy --upstream http://127.0.0.1:8080 --filter 'ratelimit:rate=100,key=header:x-user' --filter 'header:request-set=x-via:smp'
  smp proxy --upstream h2c://127.0.0.1:8080 --wasm ratelimit.wasm --wasm-config 'rate=100,burst=100'`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Upstream == "" {
				return badInput(errors.New("--upstream is required: http://HOST:PORT, h2c://HOST:PORT or https://HOST:PORT"))
			}
			if _, err := proxy.ParseUpstream(cfg.Upstream); err != nil {
				return badInput(fmt.Errorf("--%w", err))
			}
			if instances < 1 || instances > 256 {
				return badInput(fmt.Errorf("--wasm-instances %d: want 1 to 256", instances))
			}
			if wasmTimeout < 0 {
				return badInput(fmt.Errorf("--wasm-timeout %v: want 0 (none) or a positive duration", wasmTimeout))
			}
			level, err := parseLogLevel(logLevel)
			if err != nil {
				return badInput(err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			shared, cache := wasm.NewSharedData(), wazero.NewCompilationCache()
			defer cache.Close(context.Background())
			for i, l := range links {
				if l.native != nil {
					cfg.Filters = append(cfg.Filters, l.native)
					continue
				}
				p, err := wasm.Load(ctx, wasm.Options{
					Path: l.wasmPath, Name: fmt.Sprintf("wasm#%d:%s", i+1, filepath.Base(l.wasmPath)),
					Config: []byte(l.wasmConfig), RootID: l.wasmRootID, Instances: instances, CallTimeout: wasmTimeout,
					LogLevel: &level, Log: cmd.ErrOrStderr(), Shared: shared, Cache: cache,
				})
				if err != nil {
					closeFilters(cfg.Filters)
					return badInput(fmt.Errorf("--wasm: %w", err))
				}
				cfg.Filters = append(cfg.Filters, p)
			}
			srv, err := proxy.Start(ctx, cfg)
			if err != nil {
				closeFilters(cfg.Filters)
				var ce *proxy.ConfigError
				if errors.As(err, &ce) {
					return badInput(fmt.Errorf("--%w", err))
				}
				return badInput(err)
			}
			defer srv.Close()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "proxy listening on %s -> %s, %d filter(s)", srv.Addr(), cfg.Upstream, len(cfg.Filters))
			for _, f := range cfg.Filters {
				fmt.Fprintf(out, " %s", f.Name())
			}
			fmt.Fprintln(out)
			if a := srv.AdminAddr(); a != nil {
				fmt.Fprintf(out, "admin on http://%s/_smp/proxy/stats and /metrics\n", a)
			}
			<-ctx.Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:15001", "listen address HOST:PORT")
	f.StringVar(&cfg.Upstream, "upstream", "", "the upstream: http://HOST:PORT, h2c://HOST:PORT (HTTP/2 prior knowledge) or https://HOST:PORT")
	f.BoolVar(&cfg.UpstreamInsecure, "upstream-insecure", false, "do not verify an https upstream's certificate")
	f.StringVar(&cfg.Admin, "admin", "127.0.0.1:15000", "admin (stats, metrics) address HOST:PORT; empty for none")
	f.Var(chainFlag{&links, "--filter"}, "filter", "a native filter KIND:PARAM=VALUE,... (repeatable, chained in order; see above)")
	f.Var(chainFlag{&links, "--wasm"}, "wasm", "a proxy-wasm filter `FILE` (repeatable, chained in order)")
	f.Var(chainFlag{&links, "--wasm-config"}, "wasm-config", "plugin configuration `STRING` of the --wasm before it")
	f.Var(chainFlag{&links, "--wasm-root-id"}, "wasm-root-id", "root `ID` of the --wasm before it (the plugin_root_id property)")
	f.IntVar(&instances, "wasm-instances", 1, "VMs per --wasm serving requests at once (each its own root context)")
	f.DurationVar(&wasmTimeout, "wasm-timeout", 0, "stop a call into a --wasm module that runs longer (that request 500, the VM replaced); 0 for no limit, as the check costs a goroutine per call")
	f.StringVar(&logLevel, "wasm-log-level", "info", "lowest proxy_log level shown: trace, debug, info, warn, error, critical")
	f.Int64Var(&cfg.MaxBody, "max-body", proxy.DefaultMaxBody, "largest body buffered for filters, bytes")
	f.StringVar(&cfg.CertFile, "cert", "", "serve TLS with this certificate PEM `FILE`")
	f.StringVar(&cfg.KeyFile, "key", "", "TLS key PEM `FILE`")
	f.DurationVar(&cfg.UpstreamTimeout, "upstream-timeout", 0, "longest wait for the upstream's response head (default 1m)")
	return cmd
}

func parseLogLevel(s string) (int, error) {
	for i, n := range [...]string{"trace", "debug", "info", "warn", "error", "critical"} {
		if s == n || s == strconv.Itoa(i) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("--wasm-log-level %q: want trace, debug, info, warn, error or critical", s)
}

func closeFilters(fs []filter.Filter) {
	for _, f := range fs {
		if c, ok := f.(filter.Closer); ok {
			_ = c.Close()
		}
	}
}
