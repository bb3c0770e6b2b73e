package spec

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/smp-project/smp/hist"
)

// Bounds beyond which a value is a mistake rather than a test.
const (
	MaxConnections = 1_000_000
	MaxRPS         = 100_000_000
	MaxDuration    = 7 * 24 * time.Hour
	MaxStreams     = 100_000
)

// schemes lists the URL schemes each protocol accepts.
var schemes = map[PerformanceTestConfig_Client_Protocol][]string{
	PerformanceTestConfig_Client_PROTOCOL_HTTP: {"http", "https"},
	PerformanceTestConfig_Client_PROTOCOL_GRPC: {"grpc", "grpcs", "http", "https"},
	PerformanceTestConfig_Client_PROTOCOL_TCP:  {"tcp"},
	PerformanceTestConfig_Client_PROTOCOL_UDP:  {"udp"},
}

// ProtocolForScheme returns the protocol a URL scheme implies, or
// PROTOCOL_INVALID for an unknown scheme.
func ProtocolForScheme(scheme string) PerformanceTestConfig_Client_Protocol {
	switch strings.ToLower(scheme) {
	case "http", "https":
		return PerformanceTestConfig_Client_PROTOCOL_HTTP
	case "grpc", "grpcs":
		return PerformanceTestConfig_Client_PROTOCOL_GRPC
	case "tcp":
		return PerformanceTestConfig_Client_PROTOCOL_TCP
	case "udp":
		return PerformanceTestConfig_Client_PROTOCOL_UDP
	}
	return PerformanceTestConfig_Client_PROTOCOL_INVALID
}

const durationAllowed = "a Go duration such as 30s, 5m or 1h30m"

// Validate checks a loaded document for values that cannot make a sensible
// test and returns every problem as Errors (nil when there is none).
func Validate(doc *Document) error {
	v := &validator{doc: doc}
	switch doc.Kind {
	case KindConfig, KindMeshery:
		v.config(doc.Config, doc.prefix)
	case KindResult, KindLegacyResult:
		v.result(doc.Result, "")
	}
	return v.errs.err()
}

type validator struct {
	doc  *Document
	errs Errors
}

func (v *validator) fail(path, value, msg, allowed string) {
	v.errs = append(v.errs, &FieldError{File: v.doc.File, Path: path, Value: value, Msg: msg, Allowed: allowed})
}

func (v *validator) present(path string) bool { return v.doc.present[path] }

func (v *validator) duration(path, s string, allowZero bool) {
	if !v.present(path) && s == "" {
		return
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	switch {
	case err != nil:
		v.fail(path, s, "not a duration", durationAllowed)
	case d < 0 || (d == 0 && !allowZero):
		v.fail(path, s, "must be positive", durationAllowed)
	case d > MaxDuration:
		v.fail(path, s, fmt.Sprintf("longer than %s", MaxDuration), durationAllowed)
	}
}

func (v *validator) config(c *PerformanceTestConfig, prefix string) {
	if c == nil {
		return
	}
	v.duration(join(prefix, "duration"), c.GetDuration(), false)
	v.duration(join(prefix, "warmup"), c.GetWarmup(), true)
	if len(c.GetClients()) == 0 {
		v.fail(join(prefix, "clients"), "", "no clients: a test needs at least one load generator client", "")
	}
	for i, cl := range c.GetClients() {
		v.client(cl, fmt.Sprintf("%s[%d]", join(prefix, "clients"), i))
	}
}

func (v *validator) client(c *PerformanceTestConfig_Client, path string) {
	p := func(f string) string { return join(path, f) }
	if n := c.GetConnections(); v.present(p("connections")) && n <= 0 {
		v.fail(p("connections"), fmt.Sprint(n), "must be at least 1", fmt.Sprintf("1 to %d", MaxConnections))
	} else if n > MaxConnections {
		v.fail(p("connections"), fmt.Sprint(n), "more than a million connections is beyond any load generator", fmt.Sprintf("1 to %d", MaxConnections))
	}
	if r := c.GetRps(); r < 0 {
		v.fail(p("rps"), fmt.Sprint(r), "must not be negative", "0 for as fast as possible, or a rate up to 100000000")
	} else if r > MaxRPS {
		v.fail(p("rps"), fmt.Sprint(r), "beyond any load generator", "0 for as fast as possible, or a rate up to 100000000")
	}
	if q := c.GetQps(); q < 0 || q > MaxRPS || math.IsNaN(q) || math.IsInf(q, 0) {
		v.fail(p("qps"), fmt.Sprint(q), "not a rate", "0 for as fast as possible, or a rate up to 100000000 (fractions allowed)")
	}
	if n := c.GetRequests(); n < 0 {
		v.fail(p("requests"), fmt.Sprint(n), "must not be negative", "0 for no count, or the number of requests to send")
	}
	if c.GetRamp() != "" && c.GetSteps() != "" {
		v.fail(p("steps"), c.GetSteps(), "a client has one schedule: ramp or steps, not both", "ramp FROM:TO/DURATION or steps R1,R2,.../STEP")
	}
	if s := c.GetStreams(); v.present(p("streams")) && (s <= 0 || s > MaxStreams) {
		v.fail(p("streams"), fmt.Sprint(s), "out of range", fmt.Sprintf("1 to %d", MaxStreams))
	}
	v.duration(p("timeout"), c.GetTimeout(), false)
	if m := c.GetMethod(); m != "" && !isToken(m) {
		v.fail(p("method"), m, "not an HTTP method", "GET, POST, PUT, DELETE, HEAD, PATCH, OPTIONS or another token")
	}
	for name := range c.GetHeaders() {
		if !isToken(name) {
			v.fail(fmt.Sprintf("%s[%q]", p("headers"), name), name, "not a valid header name", "letters, digits and !#$%&'*+-.^_`|~")
		}
	}
	if opts := strings.TrimSpace(c.GetAdditionalOptions()); opts != "" {
		var obj map[string]any
		if err := json.Unmarshal([]byte(opts), &obj); err != nil {
			v.fail(p("additional_options"), opts, "not a JSON object: "+err.Error(), `a JSON object such as {"streams": 4}`)
		}
	}
	urls := c.GetEndpointUrls()
	if len(urls) == 0 {
		v.fail(p("endpoint_urls"), "", "no endpoint URLs: a client needs at least one", "")
	}
	for i, u := range urls {
		v.endpoint(fmt.Sprintf("%s[%d]", p("endpoint_urls"), i), u, c.GetProtocol())
	}
}

func (v *validator) endpoint(path, raw string, proto PerformanceTestConfig_Client_Protocol) {
	if strings.TrimSpace(raw) == "" {
		v.fail(path, "", "empty URL", "scheme://host:port/path")
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		v.fail(path, raw, "malformed URL: "+strings.TrimPrefix(err.Error(), fmt.Sprintf("parse %q: ", raw)), "scheme://host:port/path")
		return
	}
	if u.Scheme == "" || u.Host == "" || u.Hostname() == "" {
		v.fail(path, raw, "malformed URL: needs a scheme and a host", "scheme://host:port/path, e.g. http://127.0.0.1:8080/")
		return
	}
	if port := u.Port(); port != "" {
		if n, err := parsePort(port); err != nil || n == 0 {
			v.fail(path, raw, "port out of range", "1 to 65535")
		}
	}
	if proto == PerformanceTestConfig_Client_PROTOCOL_INVALID {
		if ProtocolForScheme(u.Scheme) == PerformanceTestConfig_Client_PROTOCOL_INVALID {
			v.fail(path, raw, fmt.Sprintf("unknown scheme %q", u.Scheme), "http, https, grpc, grpcs, tcp, udp")
		}
		return
	}
	ok := schemes[proto]
	for _, s := range ok {
		if strings.EqualFold(u.Scheme, s) {
			return
		}
	}
	v.fail(path, raw, fmt.Sprintf("scheme %q does not fit protocol %s", u.Scheme, strings.TrimPrefix(proto.String(), "PROTOCOL_")), strings.Join(ok, ", "))
}

func parsePort(s string) (int, error) {
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || fmt.Sprint(n) != s {
		return 0, fmt.Errorf("bad port %q", s)
	}
	if n < 0 || n > 65535 {
		return 0, fmt.Errorf("port %d out of range", n)
	}
	return n, nil
}

// isToken reports whether s is an RFC 9110 token (header names, methods).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", r):
		default:
			return false
		}
	}
	return true
}

func (v *validator) result(r *PerformanceTestResult, path string) {
	if r == nil {
		return
	}
	p := func(f string) string { return join(path, f) }
	if q := r.GetActualQps(); q < 0 || math.IsNaN(q) || math.IsInf(q, 0) {
		v.fail(p("actual_qps"), fmt.Sprint(q), "must be a non-negative number", "a finite rate of 0 or more")
	}
	if q := r.GetRequestedQps(); q < 0 || math.IsNaN(q) || math.IsInf(q, 0) {
		v.fail(p("requested_qps"), fmt.Sprint(q), "must be a non-negative number", "a finite rate of 0 or more")
	}
	if l := r.GetLatenciesMs(); l != nil {
		v.latency(l, p("latencies_ms"))
	}
	if l := r.GetUncorrectedLatenciesMs(); l != nil {
		v.latency(l, p("uncorrected_latencies_ms"))
	}
	if l := r.GetErrorLatenciesMs(); l != nil {
		v.latency(l, p("error_latencies_ms"))
	}
	for i, pc := range r.GetPercentilesMs() {
		if x := pc.GetValue(); !finiteNonNeg(x) {
			v.fail(fmt.Sprintf("%s[%d].value", p("percentiles_ms"), i), fmt.Sprint(x), "latency must be a finite, non-negative number of milliseconds", msAllowed)
		}
	}
	for i, iv := range r.GetIntervals() {
		ip := fmt.Sprintf("%s[%d]", p("intervals"), i)
		for _, f := range []struct {
			name string
			x    float64
		}{{"p50_ms", iv.GetP50Ms()}, {"p99_ms", iv.GetP99Ms()}, {"max_ms", iv.GetMaxMs()}} {
			if !finiteNonNeg(f.x) {
				v.fail(join(ip, f.name), fmt.Sprint(f.x), "latency must be a finite, non-negative number of milliseconds", msAllowed)
			}
		}
		if n := iv.GetRequests(); n < 0 {
			v.fail(join(ip, "requests"), fmt.Sprint(n), "count must not be negative", countAllowed)
		}
		if n := iv.GetErrors(); n < 0 {
			v.fail(join(ip, "errors"), fmt.Sprint(n), "count must not be negative", countAllowed)
		}
	}
	v.counts(r, path)
	if h := r.GetHistogram(); h != nil {
		hp := p("histogram")
		for _, f := range []struct{ name, data string }{
			{"data", h.GetData()}, {"uncorrected_data", h.GetUncorrectedData()},
			{"lateness_data", h.GetLatenessData()}, {"error_data", h.GetErrorData()},
		} {
			if f.data == "" {
				continue
			}
			if _, err := hist.Decode(f.data); err != nil {
				v.fail(join(hp, f.name), abbrev(f.data), "histogram does not decode: "+err.Error(), `an "hdr-v2" histogram as smp writes it (base64 "HISTF..."), or empty`)
			}
		}
	}
	if s, e := r.GetStartTime(), r.GetEndTime(); s != nil && e != nil && e.AsTime().Before(s.AsTime()) {
		v.fail(p("end_time"), e.AsTime().Format(time.RFC3339Nano), "before start_time "+s.AsTime().Format(time.RFC3339Nano), "")
	}
	for i, run := range r.GetRuns() {
		v.result(run, fmt.Sprintf("%s[%d]", p("runs"), i))
	}
	for i, c := range r.GetClients() {
		v.result(c, fmt.Sprintf("%s[%d]", p("clients"), i))
	}
}

func (v *validator) latency(l *PerformanceTestResult_Latency, path string) {
	vals := map[string]float64{"min": l.GetMin(), "average": l.GetAverage(), "p50": l.GetP50(), "p90": l.GetP90(), "p99": l.GetP99(), "max": l.GetMax()}
	for _, k := range []string{"min", "average", "p50", "p90", "p99", "max"} {
		if x := vals[k]; !finiteNonNeg(x) {
			v.fail(join(path, k), fmt.Sprint(x), "latency must be a finite, non-negative number of milliseconds", msAllowed)
		}
	}
	if l.GetMax() > 0 && l.GetMin() > l.GetMax() {
		v.fail(join(path, "min"), fmt.Sprint(l.GetMin()), fmt.Sprintf("greater than max (%v)", l.GetMax()), "")
	}
}

const (
	msAllowed    = "a finite number of milliseconds, 0 or more (not .inf or .nan)"
	countAllowed = "a whole number, 0 or more"
)

func finiteNonNeg(x float64) bool { return x >= 0 && !math.IsInf(x, 0) && !math.IsNaN(x) }

// abbrev shortens a long value (an encoded histogram) for an error message.
func abbrev(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// counts checks the request counts: none negative, and consistent with one
// another. smp writes total = ok + errors; results converted from other
// tools may leave ok or errors out (zero), so consistency is checked only
// when total is given and, for the sum, when both parts are.
func (v *validator) counts(r *PerformanceTestResult, path string) {
	p := func(f string) string { return join(path, f) }
	rq := r.GetRequests()
	total, ok, errs := rq.GetTotal(), rq.GetOk(), rq.GetErrors()
	neg := false
	for _, f := range []struct {
		name string
		n    int64
	}{{"total", total}, {"ok", ok}, {"errors", errs}} {
		if f.n < 0 {
			neg = true
			v.fail(p("requests."+f.name), fmt.Sprint(f.n), "count must not be negative", countAllowed)
		}
	}
	if !neg && total > 0 {
		switch {
		case ok > total:
			v.fail(p("requests.ok"), fmt.Sprint(ok), fmt.Sprintf("more successful requests than requests.total (%d)", total), fmt.Sprintf("0 to %d", total))
		case errs > total:
			v.fail(p("requests.errors"), fmt.Sprint(errs), fmt.Sprintf("more failed requests than requests.total (%d)", total), fmt.Sprintf("0 to %d", total))
		case (ok != 0 || v.present(p("requests.ok"))) && (errs != 0 || v.present(p("requests.errors"))) && ok+errs != total:
			v.fail(p("requests.ok"), fmt.Sprint(ok), fmt.Sprintf("requests.ok (%d) + requests.errors (%d) = %d, not requests.total (%d)", ok, errs, ok+errs, total), "ok + errors = total")
		}
	}
	for _, k := range sortedKeys(r.GetErrors()) {
		if n := r.GetErrors()[k]; n < 0 {
			v.fail(fmt.Sprintf("%s[%q]", p("errors"), k), fmt.Sprint(n), "count must not be negative", countAllowed)
		}
	}
	codes := r.GetStatusCodes()
	keys := make([]int, 0, len(codes))
	for c := range codes {
		keys = append(keys, int(c))
	}
	sort.Ints(keys)
	for _, c := range keys {
		if n := codes[int32(c)]; n < 0 {
			v.fail(fmt.Sprintf("%s[%d]", p("status_codes"), c), fmt.Sprint(n), "count must not be negative", countAllowed)
		}
	}
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
