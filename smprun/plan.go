package smprun

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/smp-project/smp/load"
	"github.com/smp-project/smp/spec"
	"google.golang.org/protobuf/proto"
)

// SMPVersion is the upstream SMP spec version results conform to.
const SMPVersion = "v0.6.1"

// Defaults for settings neither the flags nor the config give.
const (
	DefaultConnections = 8
	DefaultDuration    = 10 * time.Second
	// maxBody bounds a request body read from a file: bodies are sent on
	// every request and held in memory once per driver.
	maxBody = 64 << 20
)

// invalid wraps a bad-input error so that callers can tell it with
// errors.Is(err, load.ErrInvalid).
func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", load.ErrInvalid, fmt.Sprintf(format, a...))
}

// Settings are what `smp run` takes on its command line. A nil pointer (or
// empty slice) leaves the config's value, or the default, alone: flags the
// user set override a config file, flags left alone do not.
type Settings struct {
	URLs []string
	// QPS is the rate (a fraction is kept in the client's qps field);
	// Ramp and Steps are the other schedules, as load.ParseRamp and
	// load.ParseSteps read them. At most one of the three is set.
	QPS         *float64
	Ramp, Steps *string
	// Requests stops each client after that many measured requests.
	Requests *int64
	// OKStatus is the success set, as load.ParseStatusSet reads it.
	OKStatus    *string
	Connections *int
	Streams     *int
	Duration    *time.Duration
	Warmup      *time.Duration
	Timeout     *time.Duration
	// Protocol is http, http2, grpc, tcp or udp.
	Protocol    *string
	Method      *string
	Headers     []string // "Name: value"
	Body        *string
	BodyFile    *string
	ContentType *string
	Insecure    *bool
	CACert      *string
	Labels      map[string]string
	Name        *string
}

// ApplySettings returns the test config to run: base (from -f, or nil for flags
// only) with the settings applied. base is not modified.
func ApplySettings(base *spec.PerformanceTestConfig, s Settings) (*spec.PerformanceTestConfig, error) {
	var cfg *spec.PerformanceTestConfig
	if base != nil {
		cfg = proto.Clone(base).(*spec.PerformanceTestConfig)
	} else {
		if len(s.URLs) == 0 {
			return nil, invalid("no target: give a URL or an SMP config with -f")
		}
		cfg = &spec.PerformanceTestConfig{
			SmpVersion: SMPVersion,
			Duration:   DefaultDuration.String(),
			Clients:    []*spec.PerformanceTestConfig_Client{{Connections: DefaultConnections, Rps: 1000}},
		}
		if s.Duration == nil && (s.Requests != nil || s.Ramp != nil || s.Steps != nil) {
			// The count or the schedule decides how long it runs.
			cfg.Duration = ""
		}
	}
	schedules := 0
	for _, set := range []bool{s.QPS != nil, s.Ramp != nil, s.Steps != nil} {
		if set {
			schedules++
		}
	}
	if schedules > 1 {
		return nil, invalid("give one of --qps, --ramp and --steps")
	}
	if s.Ramp != nil {
		if _, err := load.ParseRamp(*s.Ramp); err != nil {
			return nil, invalid("--ramp: %v", unwrapInvalid(err))
		}
	}
	if s.Steps != nil {
		if _, err := load.ParseSteps(*s.Steps); err != nil {
			return nil, invalid("--steps: %v", unwrapInvalid(err))
		}
	}
	if s.OKStatus != nil {
		if _, err := load.ParseStatusSet(*s.OKStatus); err != nil {
			return nil, invalid("--ok-status: %v", err)
		}
	}
	if s.Requests != nil && *s.Requests < 1 {
		return nil, invalid("-n must be at least 1, got %d", *s.Requests)
	}
	if len(cfg.Clients) == 0 {
		return nil, invalid("the config has no clients")
	}
	if s.Name != nil {
		cfg.Name = *s.Name
	}
	if s.Duration != nil {
		if *s.Duration <= 0 {
			return nil, invalid("duration must be positive, got %v", *s.Duration)
		}
		cfg.Duration = s.Duration.String()
	}
	if s.Warmup != nil {
		if *s.Warmup < 0 {
			return nil, invalid("warm-up must not be negative, got %v", *s.Warmup)
		}
		cfg.Warmup = s.Warmup.String()
	}
	for k, v := range s.Labels {
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		cfg.Labels[k] = v
	}
	headers, err := parseHeaders(s.Headers)
	if err != nil {
		return nil, err
	}
	for _, c := range cfg.Clients {
		if len(s.URLs) > 0 {
			c.EndpointUrls = append([]string(nil), s.URLs...)
		}
		if s.QPS != nil {
			q := *s.QPS
			if q < 0 || math.IsNaN(q) || math.IsInf(q, 0) || q > spec.MaxRPS {
				return nil, invalid("--qps must be 0 (closed loop) or a rate up to %d/s, got %v", spec.MaxRPS, q)
			}
			c.Rps, c.Qps, c.Ramp, c.Steps = int64(math.Round(q)), 0, "", ""
			if q != math.Trunc(q) {
				c.Qps = q // rps keeps the rounded rate for other readers
			}
		}
		if s.Ramp != nil {
			c.Ramp, c.Steps, c.Rps, c.Qps = *s.Ramp, "", 0, 0
		}
		if s.Steps != nil {
			c.Steps, c.Ramp, c.Rps, c.Qps = *s.Steps, "", 0, 0
		}
		if s.Requests != nil {
			c.Requests = *s.Requests
		}
		if s.OKStatus != nil {
			c.OkStatus = *s.OKStatus
		}
		if s.Connections != nil {
			if *s.Connections < 1 {
				return nil, invalid("--connections must be at least 1, got %d", *s.Connections)
			}
			c.Connections = int32(min(*s.Connections, math.MaxInt32))
		}
		if s.Streams != nil {
			if *s.Streams < 1 {
				return nil, invalid("--streams must be at least 1, got %d", *s.Streams)
			}
			c.Streams = int32(min(*s.Streams, math.MaxInt32))
		}
		if s.Timeout != nil {
			if *s.Timeout <= 0 {
				return nil, invalid("--timeout must be positive, got %v", *s.Timeout)
			}
			c.Timeout = s.Timeout.String()
		}
		if s.Protocol != nil {
			if err := setProtocol(c, *s.Protocol); err != nil {
				return nil, err
			}
		} else if len(s.URLs) > 0 {
			// New URLs whose scheme the file's protocol does not take
			// choose the protocol themselves (a file written for HTTP, run
			// against grpc://).
			if u, err := url.Parse(s.URLs[0]); err == nil && !schemeFits(c.GetProtocol(), u.Scheme) {
				c.Protocol, c.Http2 = spec.PerformanceTestConfig_Client_PROTOCOL_INVALID, false
			}
		}
		if s.Method != nil {
			c.Method = *s.Method
		}
		for k, v := range headers {
			if c.Headers == nil {
				c.Headers = map[string]string{}
			}
			c.Headers[k] = v
		}
		if s.Body != nil && s.BodyFile != nil {
			return nil, invalid("give --body or --body-file, not both")
		}
		if s.Body != nil {
			c.Body, c.BodyFile = *s.Body, ""
		}
		if s.BodyFile != nil {
			c.BodyFile, c.Body = *s.BodyFile, ""
		}
		if s.ContentType != nil {
			c.ContentType = *s.ContentType
		}
		if s.Insecure != nil {
			c.InsecureSkipVerify = *s.Insecure
		}
		if s.CACert != nil {
			c.SslCertificate = *s.CACert
		}
	}
	return cfg, nil
}

// setProtocol applies --protocol to a client.
func setProtocol(c *spec.PerformanceTestConfig_Client, p string) error {
	switch strings.ToLower(p) {
	case ProtoHTTP:
		c.Protocol, c.Http2 = spec.PerformanceTestConfig_Client_PROTOCOL_HTTP, false
	case ProtoHTTP2, "h2", "h2c":
		c.Protocol, c.Http2 = spec.PerformanceTestConfig_Client_PROTOCOL_HTTP, true
	case ProtoGRPC:
		c.Protocol, c.Http2 = spec.PerformanceTestConfig_Client_PROTOCOL_GRPC, false
	case ProtoTCP:
		c.Protocol, c.Http2 = spec.PerformanceTestConfig_Client_PROTOCOL_TCP, false
	case ProtoUDP:
		c.Protocol, c.Http2 = spec.PerformanceTestConfig_Client_PROTOCOL_UDP, false
	default:
		return invalid("unknown protocol %q (allowed: http, http2, grpc, tcp, udp)", p)
	}
	return nil
}

// parseHeaders reads "Name: value" flags.
func parseHeaders(hs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, h := range hs {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") {
			return nil, invalid("header %q is not 'Name: value'", h)
		}
		if strings.ContainsAny(value, "\r\n") {
			return nil, invalid("header %q has a line break in its value", h)
		}
		out[name] = strings.TrimSpace(value)
	}
	return out, nil
}

// Plan is a runnable test: the engine's config with its drivers, and the
// SMP config it was built from.
type Plan struct {
	Load   load.Config
	Config *spec.PerformanceTestConfig
	// Notes are things the user should know that do not stop the run,
	// e.g. additional_options that the HTTP drivers ignore.
	Notes   []string
	drivers []load.Driver
	// endpoints explain failures at the start, in the order of the
	// engine's clients and endpoints.
	endpoints []endpointInfo
}

// Close releases the drivers.
func (p *Plan) Close() error {
	var first error
	for _, d := range p.drivers {
		if err := d.Close(); err != nil && first == nil {
			first = err
		}
	}
	p.drivers = nil
	return first
}

// PlanOptions are settings of a plan that SMP configs do not carry.
type PlanOptions struct {
	// BaseDir resolves relative body_file and ssl_certificate paths: the
	// directory of the config file ("" for the working directory).
	BaseDir string
	// CertFile and KeyFile are a client certificate for every client.
	CertFile, KeyFile string
	// Progress is passed to the engine.
	Progress func(load.Progress)
	// ProgressLatency asks the engine for the latency histogram in each
	// progress snapshot (live metrics need it; a progress line does not).
	ProgressLatency bool
	// Notify is passed to the engine: messages about a slow start.
	Notify func(string)
	// MaxDuration is the engine's hard limit (0: warm-up + duration +
	// drain).
	MaxDuration time.Duration
	// Share and Start are for one generator of several (an agent): its
	// share of the schedule, and the instant the schedule starts.
	Share load.Share
	Start time.Time
}

// UDPStreams is how many datagrams a UDP socket keeps in flight when the
// config does not say (streams 0) and replies are matched by sequence
// number (the built-in payload): one lost datagram then holds one stream
// for the timeout, not the socket.
const UDPStreams = 32

// NewPlan builds the engine config for cfg: a driver per endpoint, of the
// client's protocol (see ClientProtocol), and a constant-rate pacer per
// client with rps > 0 (a closed loop otherwise). ctx bounds what building
// a driver may do on the network (a gRPC driver asks the server's
// reflection service for a method's descriptor). Errors are bad input
// (they wrap load.ErrInvalid), or a *StartError (wrapping
// load.ErrUnreachable) when a driver had to reach the target and could
// not.
func NewPlan(ctx context.Context, cfg *spec.PerformanceTestConfig, o PlanOptions) (*Plan, error) {
	p := &Plan{Config: cfg, Load: load.Config{Progress: o.Progress, ProgressLatency: o.ProgressLatency, Notify: o.Notify, MaxDuration: o.MaxDuration,
		Share: o.Share, Start: o.Start}}
	var err error
	if p.Load.Duration, err = duration("duration", cfg.GetDuration(), 0); err != nil {
		return nil, err
	}
	if p.Load.Warmup, err = duration("warmup", cfg.GetWarmup(), 0); err != nil {
		return nil, err
	}
	if len(cfg.GetClients()) == 0 {
		return nil, invalid("the config has no clients")
	}
	for i, c := range cfg.GetClients() {
		lc, err := p.client(ctx, i, c, o)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.Load.Clients = append(p.Load.Clients, lc)
	}
	if p.Load.Duration == 0 {
		p.Load.Duration = derivedDuration(p.Load.Clients, p.Load.Warmup)
	} else {
		p.Load.Duration = cappedByCount(p.Load.Clients, p.Load.Warmup, p.Load.Duration)
	}
	return p, nil
}

// CountCap bounds a closed-loop run with a request count and no duration:
// it stops after its requests or this long, whichever comes first.
const CountCap = time.Hour

// derivedDuration is the window of a config without a duration: what its
// clients' request counts or schedules need (the longest of them), or
// DefaultDuration when nothing says.
func derivedDuration(clients []load.Client, warm time.Duration) time.Duration {
	var d time.Duration
	for _, c := range clients {
		switch w, ok := load.CountWindow(c.Pacer, warm, c.Requests); {
		case ok:
			d = max(d, w)
		case c.Requests > 0 && !load.IsClosedLoop(c.Pacer):
			// The schedule ends before the count: its end bounds it.
			if l, ok := load.Length(c.Pacer); ok {
				d = max(d, l-warm)
			}
		case c.Requests > 0:
			d = max(d, CountCap)
		default:
			if l, ok := load.Length(c.Pacer); ok {
				d = max(d, l-warm)
			} else if r, ok := c.Pacer.(*load.LinearRamp); ok {
				d = max(d, r.Over()-warm)
			}
		}
	}
	if d <= 0 {
		return DefaultDuration
	}
	return d
}

// cappedByCount shortens a given duration to the window that holds the
// request count of every open-loop client, so that a count reached early
// does not leave an idle tail that would read as a lower rate; the
// duration stays the cap.
func cappedByCount(clients []load.Client, warm, d time.Duration) time.Duration {
	need := time.Duration(0)
	for _, c := range clients {
		w, ok := load.CountWindow(c.Pacer, warm, c.Requests)
		if !ok {
			return d // a client without a count, or a closed loop, runs the duration
		}
		need = max(need, w)
	}
	return min(d, need)
}

func (p *Plan) client(ctx context.Context, i int, c *spec.PerformanceTestConfig_Client, o PlanOptions) (load.Client, error) {
	where := fmt.Sprintf("clients[%d]", i)
	name := c.GetName()
	if name == "" {
		name = fmt.Sprintf("client-%d", i+1)
	}
	lc := load.Client{Name: name, Connections: int(c.GetConnections()), Streams: int(c.GetStreams())}
	if lc.Connections == 0 {
		lc.Connections = DefaultConnections
	}
	if lc.Connections < 0 {
		return lc, invalid("%s.connections must be at least 1, got %d", where, lc.Connections)
	}
	pacer, err := clientPacer(c, where)
	if err != nil {
		return lc, err
	}
	lc.Pacer = pacer
	if n := c.GetRequests(); n < 0 {
		return lc, invalid("%s.requests must not be negative, got %d", where, n)
	}
	lc.Requests = c.GetRequests()
	if ok := c.GetOkStatus(); ok != "" {
		set, err := load.ParseStatusSet(ok)
		if err != nil {
			return lc, invalid("%s.ok_status: %v", where, err)
		}
		lc.OKStatus = set
	}
	timeout, err := duration(where+".timeout", c.GetTimeout(), 0)
	if err != nil {
		return lc, err
	}
	body := []byte(c.GetBody())
	if f := c.GetBodyFile(); f != "" {
		if body, err = readBody(resolve(o.BaseDir, f)); err != nil {
			return lc, invalid("%s.body_file: %v", where, err)
		}
	}
	proto, err := ClientProtocol(c, where)
	if err != nil {
		return lc, err
	}
	if proto == "udp" && c.GetStreams() == 0 && len(body) == 0 {
		lc.Streams = UDPStreams
	}
	opts := load.Options{
		Method: c.GetMethod(), Headers: c.GetHeaders(), Cookies: c.GetCookies(), Body: body,
		ContentType: c.GetContentType(), Timeout: timeout, InsecureSkipVerify: c.GetInsecureSkipVerify(),
		CertFile: o.CertFile, KeyFile: o.KeyFile, Streams: max(lc.Streams, 1),
	}
	if ca := c.GetSslCertificate(); ca != "" {
		opts.CAFile = resolve(o.BaseDir, ca)
	}
	newDriver, note, err := driverFactory(proto, c.GetAdditionalOptions(), where)
	if err != nil {
		return lc, err
	}
	if note != "" {
		p.Notes = append(p.Notes, note)
	}
	for j, raw := range c.GetEndpointUrls() {
		opts.URL = endpointURL(proto, raw)
		ep := endpointInfo{url: raw, protocol: proto, caFile: opts.CAFile, timeout: timeout}
		if ep.timeout == 0 {
			ep.timeout = defaultTimeout(proto)
		}
		d, err := newDriver(ctx, opts)
		if err != nil {
			if load.IsConnectError(err) {
				return lc, &StartError{
					Failures: []EndpointFailure{ep.failure(err)},
					Err:      fmt.Errorf("%w: %s.endpoint_urls[%d] %s: %w", load.ErrUnreachable, where, j, raw, err),
				}
			}
			return lc, invalid("%s.endpoint_urls[%d]: %v", where, j, err)
		}
		p.endpoints = append(p.endpoints, ep)
		p.drivers = append(p.drivers, d)
		lc.Endpoints = append(lc.Endpoints, load.Endpoint{URL: raw, Driver: d})
	}
	return lc, nil
}

// unwrapInvalid drops the engine's "invalid load configuration: " prefix
// from an error that is about to be wrapped in it again.
func unwrapInvalid(err error) string {
	return strings.TrimPrefix(err.Error(), load.ErrInvalid.Error()+": ")
}

func duration(field, s string, def time.Duration) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, invalid("%s: %q is not a duration such as 30s or 5m", field, s)
	}
	return d, nil
}

func resolve(base, path string) string {
	if base == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(base, path)
}

func readBody(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > maxBody {
		return nil, fmt.Errorf("%s is %d bytes; request bodies are limited to %d MiB", path, st.Size(), maxBody>>20)
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

// ScheduledShare is how many requests share s of cfg's schedule has due in
// the measured window, summed over the clients (closed-loop clients
// count 0): what a lost agent left unsent is this less what it sent.
func ScheduledShare(cfg *spec.PerformanceTestConfig, s load.Share) (int64, error) {
	warm, err := duration("warmup", cfg.GetWarmup(), 0)
	if err != nil {
		return 0, err
	}
	dur, err := duration("duration", cfg.GetDuration(), 0)
	if err != nil {
		return 0, err
	}
	var lcs []load.Client
	for i, c := range cfg.GetClients() {
		pacer, err := clientPacer(c, fmt.Sprintf("clients[%d]", i))
		if err != nil {
			return 0, err
		}
		lcs = append(lcs, load.Client{Pacer: pacer, Requests: c.GetRequests()})
	}
	if dur == 0 {
		dur = derivedDuration(lcs, warm)
	} else {
		dur = cappedByCount(lcs, warm, dur)
	}
	var total int64
	for _, c := range lcs {
		total += load.ShareSlots(c.Pacer, warm, warm+dur, s, c.Requests)
	}
	return total, nil
}

// clientPacer is the schedule a config client asks for: ramp, steps, a
// constant rate (qps, else rps) or a closed loop.
func clientPacer(c *spec.PerformanceTestConfig_Client, where string) (load.Pacer, error) {
	if c.GetRamp() != "" && c.GetSteps() != "" {
		return nil, invalid("%s: give ramp or steps, not both", where)
	}
	rate := float64(c.GetRps())
	if q := c.GetQps(); q != 0 {
		rate = q
	}
	switch {
	case c.GetRamp() != "":
		r, err := load.ParseRamp(c.GetRamp())
		if err != nil {
			return nil, invalid("%s.ramp: %v", where, unwrapInvalid(err))
		}
		return r, nil
	case c.GetSteps() != "":
		st, err := load.ParseSteps(c.GetSteps())
		if err != nil {
			return nil, invalid("%s.steps: %v", where, unwrapInvalid(err))
		}
		return st, nil
	case rate < 0 || math.IsNaN(rate) || math.IsInf(rate, 0):
		return nil, invalid("%s.rps must not be negative, got %v", where, rate)
	case rate > 0:
		pacer, err := load.NewConstant(rate)
		if err != nil {
			return nil, err
		}
		return pacer, nil
	}
	return load.ClosedLoop(), nil
}
