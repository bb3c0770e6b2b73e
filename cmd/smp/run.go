package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/load/smprun"
	"github.com/smp-project/smp/spec"
	"github.com/spf13/cobra"
)

// runFlags holds the flags of `smp run`; quickstart shares the output ones.
type runFlags struct {
	file                 string
	qps                  int64
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
	outputFlags
}

// outputFlags say where results go.
type outputFlags struct {
	output, format string
	quiet          bool
}

func (o *outputFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "", "write the SMP result to `FILE` (.json, .yaml or .yml)")
	f.StringVar(&o.format, "format", "text", "what to print on stdout: text, json or yaml")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress line")
}

// check rejects bad output settings before a run, not after it.
func (o *outputFlags) check() error {
	switch o.format {
	case "text", "json", "yaml":
	default:
		return badInput(fmt.Errorf("--format %q: allowed are text, json, yaml", o.format))
	}
	if o.output == "" {
		return nil
	}
	switch strings.ToLower(filepath.Ext(o.output)) {
	case ".json", ".yaml", ".yml":
	default:
		return badInput(fmt.Errorf("-o %s: the file name must end in .json, .yaml or .yml", o.output))
	}
	if st, err := os.Stat(filepath.Dir(o.output)); err != nil || !st.IsDir() {
		return badInput(fmt.Errorf("-o %s: directory %s does not exist", o.output, filepath.Dir(o.output)))
	}
	return nil
}

func newRunCmd() *cobra.Command {
	var fl runFlags
	cmd := &cobra.Command{
		Use:   "run [URL...] [flags]",
		Short: "Run one load test and report its latency, rate and errors",
		Long: `Run sends load to one or more HTTP/1.1 or HTTP/2 endpoints, from flags or from an SMP
test config (-f), and reports latency measured from each request's intended send time
(no coordinated omission) beside the uncorrected view and the generator's own lateness.

With --qps N the schedule is open loop: N requests a second across all connections,
each timed from when it was due; --qps 0 is a closed loop (as fast as the connections
go). Flags given with -f override the file for every client; URLs replace its
endpoints. Ctrl-C stops the run and still reports (and writes) a partial result.

Exit codes: 0 success, 1 the run was interrupted (partial result), 2 bad input,
3 the target was unreachable at the start.`,
		Example: `  smp run --qps 2000 -c 16 -d 30s http://127.0.0.1:8080/
  smp run --qps 0 -c 8 -d 10s --protocol http2 https://127.0.0.1:8443/ --insecure
  smp run -f test.yaml -o result.yaml`,
		RunE: func(cmd *cobra.Command, urls []string) error {
			return runRun(cmd, fl, urls)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&fl.file, "file", "f", "", "SMP test config `FILE` (YAML or JSON; Meshery files too)")
	f.Int64Var(&fl.qps, "qps", 1000, "target rate in requests/s across all connections; 0 = closed loop")
	f.IntVarP(&fl.connections, "connections", "c", smprun.DefaultConnections, "connections per client")
	f.IntVar(&fl.streams, "streams", 1, "concurrent streams per connection (HTTP/2)")
	f.DurationVarP(&fl.duration, "duration", "d", smprun.DefaultDuration, "measured duration (after the warm-up)")
	f.DurationVar(&fl.warmup, "warmup", 0, "warm-up sent first and excluded from the results")
	f.DurationVar(&fl.timeout, "timeout", 0, "per-request timeout (default 30s)")
	f.StringVar(&fl.protocol, "protocol", "", "http or http2 (default: from the URL scheme, HTTP/1.1)")
	f.StringVarP(&fl.method, "method", "X", "", "HTTP method (default GET, or POST with a body)")
	f.StringArrayVarP(&fl.headers, "header", "H", nil, "request header 'Name: value' (repeatable)")
	f.StringVar(&fl.body, "body", "", "request body")
	f.StringVar(&fl.bodyFile, "body-file", "", "read the request body from `FILE`")
	f.StringVar(&fl.contentType, "content-type", "", "Content-Type of the body")
	f.StringArrayVar(&fl.labels, "label", nil, "label k=v for the result (repeatable)")
	f.BoolVarP(&fl.insecure, "insecure", "k", false, "skip TLS certificate verification")
	f.StringVar(&fl.caCert, "cacert", "", "PEM `FILE` of CAs to trust")
	f.StringVar(&fl.cert, "cert", "", "client certificate PEM `FILE`")
	f.StringVar(&fl.key, "key", "", "client key PEM `FILE`")
	f.StringVar(&fl.name, "name", "", "a name for the test")
	fl.outputFlags.add(cmd)
	return cmd
}

func runRun(cmd *cobra.Command, fl runFlags, urls []string) error {
	if err := fl.check(); err != nil {
		return err
	}
	if (fl.cert == "") != (fl.key == "") {
		return badInput(errors.New("--cert and --key go together"))
	}
	s, err := fl.settings(cmd, urls)
	if err != nil {
		return err
	}
	var (
		base *spec.PerformanceTestConfig
		mesh *spec.ServiceMesh
		po   = smprun.PlanOptions{CertFile: fl.cert, KeyFile: fl.key}
	)
	if fl.file != "" {
		doc, err := spec.LoadFile(fl.file)
		if err != nil {
			return badInput(err)
		}
		if doc.Config == nil || doc.Kind == spec.KindResult || doc.Kind == spec.KindLegacyResult {
			return badInput(fmt.Errorf("%s is a %s, not a test config", fl.file, doc.Kind))
		}
		for _, n := range doc.Notes {
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: note: %s\n", fl.file, n)
		}
		base, mesh, po.BaseDir = doc.Config, doc.Mesh, filepath.Dir(fl.file)
	} else if len(urls) == 0 {
		return badInput(errors.New("no target: give a URL or an SMP config with -f"))
	}
	cfg, err := smprun.Config(base, s)
	if err != nil {
		return badInput(err)
	}
	return execute(cmd, cfg, po, smprun.ResultOptions{Mesh: mesh, Generator: smprun.ThisGenerator()}, fl.outputFlags)
}

// settings turns the flags the user set into overrides; flags left at
// their defaults leave a config file's values alone.
func (fl *runFlags) settings(cmd *cobra.Command, urls []string) (smprun.Settings, error) {
	set := cmd.Flags().Changed
	s := smprun.Settings{URLs: urls, Headers: fl.headers}
	if set("qps") {
		s.QPS = &fl.qps
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

// execute runs cfg with Ctrl-C handling and a progress line, then prints
// and writes the result.
func execute(cmd *cobra.Command, cfg *spec.PerformanceTestConfig, po smprun.PlanOptions, ro smprun.ResultOptions, out outputFlags) error {
	ctx, cancel := context.WithCancelCause(cmd.Context())
	defer cancel(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
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
	live := !out.quiet && isTerminal(stderr)
	if live {
		po.Progress = func(p load.Progress) {
			fmt.Fprintf(stderr, "\r%s\x1b[K", smprun.ProgressLine(p))
		}
	}
	res, result, err := smprun.Execute(ctx, cfg, po, ro)
	if live {
		fmt.Fprint(stderr, "\r\x1b[K")
	}
	switch {
	case errors.Is(err, load.ErrInvalid):
		return badInput(err)
	case errors.Is(err, load.ErrUnreachable):
		return cannotRun(err)
	case err != nil && res == nil:
		return cannotRun(err)
	case err != nil:
		return err
	}
	if out.output != "" {
		if err := spec.WriteFile(out.output, result); err != nil {
			return err
		}
	}
	stdout := cmd.OutOrStdout()
	switch out.format {
	case "text":
		if err := res.WriteText(stdout); err != nil {
			return err
		}
	default:
		b, err := spec.Encode(result, out.format)
		if err != nil {
			return err
		}
		if _, err := stdout.Write(b); err != nil {
			return err
		}
	}
	if res.Partial && ctx.Err() != nil {
		return fmt.Errorf("the result is partial: %s", res.PartialReason)
	}
	if res.Partial {
		fmt.Fprintf(stderr, "smp: warning: the result is partial: %s\n", res.PartialReason)
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
