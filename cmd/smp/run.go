package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/smp-project/smp/agent"
	"github.com/smp-project/smp/internal/fdlimit"
	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/smprun"
	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/stats"
	"github.com/spf13/cobra"
)

// runFlags holds the flags of `smp run`; quickstart shares the output ones.
type runFlags struct {
	files                []string
	qps                  float64
	requests             int64
	ramp, steps          string
	okStatus             string
	connections, streams int
	duration, warmup     time.Duration
	timeout              time.Duration
	protocol, method     string
	headers, labels      []string
	body, bodyFile       string
	contentType          string
	insecure             bool
	caCert, cert, key    string
	name                 string
	runs                 int
	pause                time.Duration
	order                string
	seed                 uint64
	maxDuration          time.Duration
	variants             []string
	metricsAddr          string
	agents               []string
	agentCA              string
	agentInsecure        bool
	agentCert, agentKey  string
	outputFlags
	capture captureFlags
	kube    kubeFlags
}

// outputFlags say where results go and what they must meet.
type outputFlags struct {
	output, format string
	quiet          bool
	report, hdrLog string
	junit          string
	sloTexts       []string
	store          string         // --store: "" none, "default" the default database, else a DSN or file
	outputs        smprun.Outputs // from the flags, by check
}

func (o *outputFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "", "write the SMP result to `FILE` (.json, .yaml or .yml); with variants, FILE-NAME.ext each")
	f.StringVar(&o.format, "format", "text", "what to print on stdout: text, json, yaml or fortio (Fortio's result JSON)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress line")
	f.StringVar(&o.report, "report", "", "write a self-contained HTML report to `FILE` at the end")
	f.StringVar(&o.store, "store", "", "save the run in the results store (what smp serve shows): --store for the default SQLite file, --store=DSN for postgres://... or a file")
	f.Lookup("store").NoOptDefVal = "default"
	f.StringVar(&o.hdrLog, "hdr-log", "", "write the latency histogram as an HdrHistogram log to `FILE`; with variants, FILE-NAME.ext each")
	f.StringArrayVar(&o.sloTexts, "slo", nil, "objective the result must meet, e.g. 'p99<25ms', 'errors<0.1%', 'qps>=990'; "+
		"exit 1 when one fails (repeatable)")
	f.StringVar(&o.junit, "junit", "", "write the --slo checks as JUnit XML to `FILE`")
}

// check parses the output flags and rejects bad output settings before a
// run, not after it.
func (o *outputFlags) check() error {
	o.outputs = smprun.Outputs{File: o.output, Format: o.format, Report: o.report, HDRLog: o.hdrLog, JUnit: o.junit}
	for _, t := range o.sloTexts {
		s, err := stats.ParseSLO(t)
		if err != nil {
			return badInput(fmt.Errorf("--slo: %w", err))
		}
		o.outputs.SLOs = append(o.outputs.SLOs, s)
	}
	if err := o.outputs.Check(); err != nil {
		return badInput(err)
	}
	return nil
}

func newRunCmd() *cobra.Command {
	var fl runFlags
	cmd := &cobra.Command{
		Use:   "run [URL...] [flags]",
		Short: "Run a load test and report its latency, rate and errors",
		Long: `Run sends load to one or more endpoints, from flags or from an SMP test config (-f),
and reports latency measured from each request's intended send time (no coordinated
omission) beside the uncorrected view and the generator's own lateness.

Protocols: HTTP/1.1 (http://, https://), HTTP/2 (--protocol http2), gRPC (grpc://,
grpcs://; no method in the URL calls grpc.health.v1.Health/Check), TCP (tcp://) and
UDP (udp://). --protocol, or a config client's protocol field, overrides the scheme.
A config client's additional_options (JSON) carries protocol options: see the
load/grpc, load/tcp and load/udp package documentation.

With --qps N the schedule is open loop: N requests a second across all connections,
each timed from when it was due; --qps 0 is a closed loop (as fast as the connections
go). Flags given with -f override the file for every client; URLs replace its
endpoints. Ctrl-C, SIGTERM or SIGHUP stops the run and still reports (and
writes) a partial result.

Repetitions: --runs N runs the test N times (--pause between runs). The result then
holds each run's own result in runs, the median of each metric across runs with a
distribution-free 95% interval in summary (no interval below 6 runs), and top-level
figures of all runs' requests merged (percentiles of the merged histograms, the rate
over the sum of the measured windows). SLOs are checked on those merged figures.

Variants: --variant NAME=URL (or NAME=CONFIG-FILE), repeated, or several -f files
(named by their name field, else the file name) run in rounds, one run of each variant
per round, so that drift of the machine hits every variant alike. Within a round the
order is random and balanced (every variant takes every position once in each block
of as many rounds as variants), so that a position effect (warm-up, a periodic job)
is not confounded with a variant; the seed is in each result's run_order (--seed N
runs the same order again); --order alternate runs A B A B. Each variant gets its own result:
-o out.yaml writes out-NAME.yaml per variant, which smp compare reads directly. The
comparison of every variant with the first is printed at the end.

Before the schedule starts, every endpoint gets one connection and one request:
a target that refuses the connection, does not answer within --timeout, or whose
TLS certificate is not trusted stops the test there (exit 3), with what to do
(--cacert FILE trusts the CA that signed the target's certificate; -k skips
verification, not for production measurements). A test that needs more open
files than the process may have (about connections × endpoints, ulimit -n) is
refused before it starts (exit 2).

` + captureHelp + `

` + kubeHelp + `

` + exitCodesHelp,
		Example: `  smp run --qps 2000 -c 16 -d 30s http://127.0.0.1:8080/
  smp run --qps 0 -c 8 -d 10s --protocol http2 https://127.0.0.1:8443/ --insecure
  smp run --qps 500 grpc://127.0.0.1:8079/smp.target.v1.Echo/Echo --body '{"payload":"aGk="}'
  smp run -f test.yaml -o result.yaml --report result.html
  smp run --qps 1000 -d 10s --runs 6 --variant base=http://127.0.0.1:8080/ --variant mesh=http://127.0.0.1:8081/ -o out.yaml
  smp run --qps 1000 -d 30s http://127.0.0.1:8080/ --slo 'p99<25ms' --slo 'errors<0.1%' --junit slo.xml
  smp run --qps 2000 -d 30s http://127.0.0.1:8080/ --watch-cmd gateway=nginx -o result.yaml
  smp run --qps 500 -d 60s http://web.default.svc/ --prometheus http://127.0.0.1:9090 --prometheus-set istio
  smp run --kube-agents 4 --namespace load --image registry.example/smp:v1 --resources cpu=1,memory=256Mi --qps 20000 -d 60s http://10.96.12.7:8080/`,
		RunE: func(cmd *cobra.Command, urls []string) error {
			return runRun(cmd, &fl, urls)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&fl.files, "file", "f", nil, "SMP test config `FILE` (YAML or JSON; Meshery files too); several are variants")
	f.Float64Var(&fl.qps, "qps", 1000, "target rate in requests/s across all connections (fractions allowed, e.g. 0.5); 0 = closed loop")
	f.Int64VarP(&fl.requests, "requests", "n", 0, "stop after N measured requests; the schedule stays open loop at --qps, and -d (if given) is a cap "+
		"(without -d: N/qps, or up to 1h for a closed loop)")
	f.StringVar(&fl.ramp, "ramp", "", "ramp the rate linearly, `FROM:TO/DURATION` (e.g. 100:2000/30s), then hold TO; instead of --qps (-d defaults to DURATION)")
	f.StringVar(&fl.steps, "steps", "", "step the rate, `R1,R2,.../STEP` (e.g. 500,1000,2000/20s), each rate for STEP; instead of --qps (-d defaults to the steps' total)")
	f.StringVar(&fl.okStatus, "ok-status", "", "status codes that count as success, e.g. 200-399 (the HTTP default), 200,204, or 0 for gRPC OK (its default); "+
		"other answers are errors, timed apart from the latency")
	f.IntVarP(&fl.connections, "connections", "c", smprun.DefaultConnections, "connections per client")
	f.IntVar(&fl.streams, "streams", 1, "concurrent streams per connection (HTTP/2, gRPC); for UDP, workers sharing a socket")
	f.DurationVarP(&fl.duration, "duration", "d", smprun.DefaultDuration, "measured duration of each run (after the warm-up)")
	f.DurationVar(&fl.warmup, "warmup", 0, "warm-up sent first and excluded from the results")
	f.DurationVar(&fl.timeout, "timeout", 0, "per-request timeout (default 30s; 1s for UDP)")
	f.StringVar(&fl.protocol, "protocol", "", "http, http2, grpc, tcp or udp (default: from the URL scheme)")
	f.StringVarP(&fl.method, "method", "X", "", "HTTP method (default GET, or POST with a body)")
	f.StringArrayVarP(&fl.headers, "header", "H", nil, "request header 'Name: value'; gRPC metadata (repeatable)")
	f.StringVar(&fl.body, "body", "", "request body; the request message as JSON for gRPC; the payload for TCP and UDP")
	f.StringVar(&fl.bodyFile, "body-file", "", "read the request body from `FILE`")
	f.StringVar(&fl.contentType, "content-type", "", "Content-Type of the body")
	f.StringArrayVar(&fl.labels, "label", nil, "label k=v for the result (repeatable)")
	f.BoolVarP(&fl.insecure, "insecure", "k", false, "skip TLS certificate verification")
	f.StringVar(&fl.caCert, "cacert", "", "PEM `FILE` of CAs to trust")
	f.StringVar(&fl.cert, "cert", "", "client certificate PEM `FILE`")
	f.StringVar(&fl.key, "key", "", "client key PEM `FILE`")
	f.StringVar(&fl.name, "name", "", "a name for the test")
	f.IntVar(&fl.runs, "runs", 1, "run the test N times; the result holds every run and their summary")
	f.DurationVar(&fl.pause, "pause", 0, "wait between consecutive runs")
	f.StringVar(&fl.order, "order", smprun.OrderRandom, "order of the variants in each round: "+strings.Join(smprun.Orders(), "|")+" (random: balanced, seeded)")
	f.Uint64Var(&fl.seed, "seed", 0, "seed of the random order (0: a new one; the result's run_order says which ran)")
	f.DurationVar(&fl.maxDuration, "max-duration", 0, "hard limit on each run from its start; what is in flight then counts as timeouts (default warm-up + duration + 10s drain)")
	f.StringArrayVar(&fl.variants, "variant", nil, "a variant NAME=URL or NAME=CONFIG-FILE; several run interleaved (repeatable)")
	f.StringVar(&fl.metricsAddr, "metrics-addr", "", "serve live Prometheus metrics of the test at http://`HOST:PORT`/metrics while it runs (e.g. 127.0.0.1:9464)")
	f.StringSliceVar(&fl.agents, "agents", nil, "run on these agents (HOST:PORT,...; smp agent), each a share of the schedule, results merged; token from SMP_AGENT_TOKEN")
	f.StringVar(&fl.agentCA, "agent-ca", "", "trust the agents' certificates signed by (or equal to) a certificate in this PEM `FILE`")
	f.BoolVar(&fl.agentInsecure, "agent-insecure", false, "accept the agents' certificates unverified (a self-signed agent without --agent-ca)")
	f.StringVar(&fl.agentCert, "agent-cert", "", "client certificate PEM `FILE` for agents that require mutual TLS")
	f.StringVar(&fl.agentKey, "agent-key", "", "client key PEM `FILE` for --agent-cert")
	fl.outputFlags.add(cmd)
	fl.capture.add(cmd)
	fl.kube.add(cmd)
	return cmd
}

func runRun(cmd *cobra.Command, fl *runFlags, urls []string) error {
	if err := fl.check(); err != nil {
		return err
	}
	if (fl.cert == "") != (fl.key == "") {
		return badInput(errors.New("--cert and --key go together"))
	}
	if fl.runs < 1 || fl.runs > smprun.MaxRuns {
		return badInput(fmt.Errorf("--runs %d: want 1 to %d", fl.runs, smprun.MaxRuns))
	}
	if fl.pause < 0 {
		return badInput(fmt.Errorf("--pause %v: must not be negative", fl.pause))
	}
	if fl.maxDuration < 0 {
		return badInput(fmt.Errorf("--max-duration %v: must not be negative", fl.maxDuration))
	}
	s, err := fl.settings(cmd, urls)
	if err != nil {
		return err
	}
	stderr := cmd.ErrOrStderr()
	vs, err := smprun.Variants(smprun.Sources{
		Files: fl.files, Variants: fl.variants, Settings: s,
		Plan: smprun.PlanOptions{CertFile: fl.cert, KeyFile: fl.key, MaxDuration: fl.maxDuration,
			Notify: func(msg string) { fmt.Fprintf(stderr, "smp: %s\n", msg) }},
		Generator: smprun.ThisGenerator(),
		LoadConfig: func(file string) (*spec.PerformanceTestConfig, *spec.ServiceMesh, error) {
			return loadConfig(cmd, file)
		},
	})
	if err != nil {
		return badInput(err)
	}
	if err := smprun.CheckSeries(vs, fl.outputs, openFileLimit()); err != nil {
		return badInput(err)
	}
	if _, err := smprun.CheckOrder(fl.order); err != nil {
		return badInput(err)
	}
	capture, err := fl.capture.options("")
	if err != nil {
		return err
	}
	targets := urls
	for _, v := range vs {
		for _, c := range v.Config.GetClients() {
			targets = append(targets, c.GetEndpointUrls()...)
		}
	}
	// The environment is described before the runs, so that the mesh
	// found picks the default Prometheus queries.
	env := fl.capture.describe(targets)(cmd.Context())
	if fl.capture.prometheus != "" && fl.capture.promSet == "" {
		if capture, err = fl.capture.options(env.MeshConfig.GetDetected()); err != nil {
			return err
		}
	}
	so, stopMetrics, err := liveMetrics(cmd, fl.metricsAddr, smprun.SeriesOptions{Runs: fl.runs, Pause: fl.pause, Order: fl.order, Seed: fl.seed,
		Capture: capture, Describe: func(context.Context) smprun.Environment { return env }})
	if err != nil {
		return err
	}
	kl, err := fl.kube.launcher(cmd, fl.capture.kubeconfig, targets, vs, so)
	if err != nil {
		stopMetrics()
		return err
	}
	if kl != nil {
		so.Runner = kubeRunner(kl, stderr)
		defer closeLauncher(kl, stderr)
	}
	if len(fl.agents) > 0 {
		if fl.agentCA == "" && !fl.agentInsecure {
			return badInput(errors.New("--agents: give --agent-ca FILE (the agents' certificate or CA) or --agent-insecure"))
		}
		if (fl.agentCert == "") != (fl.agentKey == "") {
			return badInput(errors.New("--agent-cert and --agent-key go together"))
		}
		co := &agent.Coordinator{Agents: fl.agents, Token: os.Getenv("SMP_AGENT_TOKEN"), CAFile: fl.agentCA, Insecure: fl.agentInsecure,
			CertFile: fl.agentCert, KeyFile: fl.agentKey, Notify: func(msg string) { fmt.Fprintf(stderr, "smp: %s\n", msg) }}
		so.Runner = co.Runner()
	}
	defer stopMetrics()
	return execute(cmd, vs, so, fl.outputFlags)
}

// openFileLimit raises the limit on open files as far as it goes and
// returns it (0 when unknown); tests replace it.
var openFileLimit = fdlimit.Raise

// settings turns the flags the user set into overrides; flags left at
// their defaults leave a config file's values alone.
func (fl *runFlags) settings(cmd *cobra.Command, urls []string) (smprun.Settings, error) {
	set := cmd.Flags().Changed
	s := smprun.Settings{URLs: urls, Headers: fl.headers}
	if set("qps") {
		s.QPS = &fl.qps
	}
	if set("requests") {
		s.Requests = &fl.requests
	}
	if set("ramp") {
		s.Ramp = &fl.ramp
	}
	if set("steps") {
		s.Steps = &fl.steps
	}
	if set("ok-status") {
		s.OKStatus = &fl.okStatus
	}
	if set("connections") {
		s.Connections = &fl.connections
	}
	if set("streams") {
		s.Streams = &fl.streams
	}
	if set("duration") {
		s.Duration = &fl.duration
	}
	if set("warmup") {
		s.Warmup = &fl.warmup
	}
	if set("timeout") {
		s.Timeout = &fl.timeout
	}
	if set("protocol") {
		s.Protocol = &fl.protocol
	}
	if set("method") {
		s.Method = &fl.method
	}
	if set("body") {
		s.Body = &fl.body
	}
	if set("body-file") {
		s.BodyFile = &fl.bodyFile
	}
	if set("content-type") {
		s.ContentType = &fl.contentType
	}
	if set("insecure") {
		s.Insecure = &fl.insecure
	}
	if set("cacert") {
		s.CACert = &fl.caCert
	}
	if set("name") {
		s.Name = &fl.name
	}
	for _, l := range fl.labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return s, badInput(fmt.Errorf("--label %q is not k=v", l))
		}
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		s.Labels[strings.TrimSpace(k)] = v
	}
	return s, nil
}

// execute runs the series with Ctrl-C handling and a progress line, has
// smprun write its outputs (results, SLO checks, the comparison of
// variants), and turns how it went into an exit code.
func execute(cmd *cobra.Command, vs []smprun.Variant, so smprun.SeriesOptions, out outputFlags) error {
	ctx, cancel := context.WithCancelCause(cmd.Context())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		select {
		case s := <-sigs:
			// A second signal gets the default treatment: stop at once.
			signal.Stop(sigs)
			if s == os.Interrupt {
				cancel(errors.New("interrupted (Ctrl-C)"))
			} else {
				cancel(fmt.Errorf("stopped by %v", s))
			}
		case <-ctx.Done():
		}
	}()

	stderr := cmd.ErrOrStderr()
	so.Note = func(variant, note string) {
		if variant != "" {
			note = variant + ": " + note
		}
		fmt.Fprintf(stderr, "smp: note: %s\n", note)
	}
	live := !out.quiet && isTerminal(stderr)
	if live {
		tagged := len(vs) > 1 || so.Runs > 1
		so.Progress = func(ri smprun.RunInfo, p load.Progress) {
			line := smprun.ProgressLine(p)
			if tagged {
				line = "[" + ri.String() + "] " + line
			}
			fmt.Fprintf(stderr, "\r%s\x1b[K", line)
		}
	} else if !out.quiet {
		// Not a terminal (a CI log): a line every 10 s of a run.
		so.Progress = smprun.LogProgress(stderr, 10*time.Second, len(vs) > 1 || so.Runs > 1)
	}
	saved, err := beginStore(ctx, out.store, vs, &so)
	if err != nil {
		return err
	}
	vrs, err := smprun.RunSeries(ctx, vs, so)
	if live {
		fmt.Fprint(stderr, "\r\x1b[K")
	}
	if saved != nil {
		saved.finish(stderr, vrs, err)
	}
	switch {
	case errors.Is(err, load.ErrInvalid):
		return badInput(err)
	case len(vrs) == 0 && err != nil:
		return cannotRun(err)
	}
	stopped := err // a later run could not start: report what ran, then fail
	checks, err := out.outputs.Write(cmd.OutOrStdout(), stderr, vrs)
	var oe *smprun.OutputError
	switch {
	case errors.As(err, &oe):
		return outputFailed(err)
	case err != nil:
		return err
	case stopped != nil:
		return cannotRun(stopped)
	}
	// A partial result exits 4 once it is reported and written; a failed
	// SLO of a run that went on to its end but is partial (requests left
	// unsent) still exits 1, with the partial result as a warning.
	v := smprun.Judge(vrs, checks)
	if len(v.Partial) > 0 && ctx.Err() != nil {
		return partial(errors.New(v.Partial[0]))
	}
	if len(v.Failed) > 0 {
		for _, p := range v.Partial {
			fmt.Fprintf(stderr, "smp: warning: %s\n", p)
		}
		return thresholdFailed(errors.New(strings.Join(v.Failed, "\n")))
	}
	if len(v.Partial) > 0 {
		return partial(errors.New(strings.Join(v.Partial, "\n")))
	}
	return nil
}

// isTerminal reports whether w is a terminal, where a progress line that
// rewrites itself makes sense.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
