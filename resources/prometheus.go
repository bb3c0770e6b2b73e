package resources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/smp-project/smp/spec"
	"go.yaml.in/yaml/v3"
)

// Query is one Prometheus figure: a PromQL template for the used value
// (mcores for cpu, MiB for memory) and, optionally, one for what was
// assigned. Templates see the variables as {{.name}}: range (a rate window,
// by default four of the server's scrape intervals), namespace, job, and
// any that the caller sets.
type Query struct {
	Component, Class string
	Expr             string
	Assigned         string
}

func (q Query) key() string { return q.Component + "." + q.Class }

// cAdvisor's container metrics (the kubelet's /metrics/cadvisor), shared by
// the sets that find mesh containers by name.
func containerCPU(sel string) string {
	return `sum(irate(container_cpu_usage_seconds_total{` + sel + `}[{{.range}}])) * 1000`
}
func containerMem(sel string) string {
	return `sum(container_memory_working_set_bytes{` + sel + `}) / 1048576`
}
func containerCPULimit(sel string) string {
	return `sum(container_spec_cpu_quota{` + sel + `} / container_spec_cpu_period{` + sel + `}) * 1000`
}
func containerMemLimit(sel string) string {
	return `sum(container_spec_memory_limit_bytes{` + sel + `} > 0) / 1048576`
}

func containerQueries(component, sel string) []Query {
	return []Query{
		{Component: component, Class: "cpu", Expr: containerCPU(sel), Assigned: containerCPULimit(sel)},
		{Component: component, Class: "memory", Expr: containerMem(sel), Assigned: containerMemLimit(sel)},
	}
}

// QuerySets are the named default query sets.
//   - istio: cAdvisor figures of the istio-proxy sidecars, the ingress
//     gateway's proxy and istiod's discovery container.
//   - linkerd: the linkerd-proxy sidecars' and the control plane's
//     (namespace linkerd) containers, from cAdvisor.
//   - cadvisor: every container of {{.namespace}} (default: all).
//   - process: a process's own client_golang metrics
//     (process_cpu_seconds_total, process_resident_memory_bytes) for scrape
//     job {{.job}}, for anything that exports them (linkerd-proxy, smp
//     target, Prometheus itself).
func QuerySets() []string { return []string{"istio", "linkerd", "cadvisor", "process"} }

// QuerySet returns the queries of a named set.
func QuerySet(name string) ([]Query, error) {
	switch name {
	case "istio":
		return slices.Concat(
			containerQueries("sidecar", `container="istio-proxy",pod!~"istio-(ingress|egress)gateway.*"`),
			containerQueries("ingress_gateway", `container="istio-proxy",pod=~"istio-ingressgateway.*"`),
			containerQueries("control_plane", `container="discovery"`),
		), nil
	case "linkerd":
		return slices.Concat(
			containerQueries("sidecar", `container="linkerd-proxy",namespace!="linkerd"`),
			containerQueries("control_plane", `namespace="linkerd",container!="",container!="POD"`),
		), nil
	case "cadvisor":
		return containerQueries("workload", `namespace=~"{{.namespace}}",container!="",container!="POD"`), nil
	case "process":
		return []Query{
			{Component: "{{.job}}", Class: "cpu", Expr: `sum(irate(process_cpu_seconds_total{job="{{.job}}"}[{{.range}}])) * 1000`},
			{Component: "{{.job}}", Class: "memory", Expr: `sum(process_resident_memory_bytes{job="{{.job}}"}) / 1048576`},
		}, nil
	}
	return nil, fmt.Errorf("%q: unknown query set (want one of %s)", name, strings.Join(QuerySets(), ", "))
}

// ParseQuery reads a flag value "COMPONENT.CLASS=PROMQL".
func ParseQuery(s string) (Query, error) {
	k, expr, ok := strings.Cut(s, "=")
	comp, class, ok2 := strings.Cut(k, ".")
	if !ok || !ok2 || comp == "" || strings.TrimSpace(expr) == "" {
		return Query{}, fmt.Errorf("%q: want COMPONENT.CLASS=PROMQL, e.g. sidecar.cpu=sum(rate(...))*1000", s)
	}
	if class != "cpu" && class != "memory" && class != "network" {
		return Query{}, fmt.Errorf("%q: class %q: want cpu, memory or network", s, class)
	}
	return Query{Component: comp, Class: class, Expr: expr}, nil
}

// Prometheus captures figures from a Prometheus server over a run window.
type Prometheus struct {
	// URL of the server (its API is under /api/v1).
	URL string
	// Queries to run; Override replaces the query of the same
	// component.class, or adds it.
	Queries []Query
	// Vars are the templates' variables; "range" and "namespace" have
	// defaults.
	Vars map[string]string
	// Step of the series; 0 means 1 s.
	Step time.Duration
	// Client, if nil, is one with a 10 s timeout.
	Client *http.Client
}

// Override replaces the queries of the same component and class, or adds them.
func Override(base, over []Query) []Query {
	out := slices.Clone(base)
	for _, o := range over {
		i := slices.IndexFunc(out, func(q Query) bool { return q.key() == o.key() })
		if i >= 0 {
			out[i] = o
		} else {
			out = append(out, o)
		}
	}
	return out
}

func (p *Prometheus) vars(rng string) map[string]string {
	v := map[string]string{"range": rng, "namespace": ".+"}
	for k, x := range p.Vars {
		v[k] = x
	}
	return v
}

// Check says what is wrong with the URL or a template before a run: every
// template must parse and name only variables that are set.
func (p *Prometheus) Check() error {
	u, err := url.Parse(p.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("prometheus URL %q: want http://host:port", p.URL)
	}
	if len(p.Queries) == 0 {
		return errors.New("prometheus: no queries")
	}
	for _, q := range p.Queries {
		for _, t := range []string{q.Component, q.Expr, q.Assigned} {
			if _, err := expand(t, p.vars("1m")); err != nil {
				return fmt.Errorf("prometheus query %s: %w", q.key(), err)
			}
		}
	}
	return nil
}

func expand(text string, vars map[string]string) (string, error) {
	t, err := template.New("q").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, vars); err != nil {
		var ee template.ExecError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("%q names a variable that is not set (set it with --prometheus-var NAME=VALUE): %w", text, err)
		}
		return "", err
	}
	return b.String(), nil
}

// Capture runs every query over [start, end]. It never fails as a whole: a
// server that cannot be reached fails every figure, saying why; a query
// that returns no series is reported "empty".
func (p *Prometheus) Capture(ctx context.Context, start, end time.Time) (figs []*spec.ResourceUsage, caps []*spec.Capture) {
	step := p.Step
	if step <= 0 {
		step = time.Second
	}
	c := p.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	api := apiClient{base: strings.TrimRight(p.URL, "/"), c: c}
	rng, err := api.rateRange(ctx)
	capName := "prometheus " + p.URL
	if err != nil {
		// The server is not there: say so once per figure, do not query.
		reason := fmt.Sprintf("prometheus %s unreachable: %v", p.URL, err)
		for _, q := range p.Queries {
			comp, _ := expand(q.Component, p.vars("1m"))
			figs = append(figs, &spec.ResourceUsage{Component: comp, Class: q.Class, Unit: unitOf(q.Class), Source: "prometheus", Error: reason})
		}
		return figs, []*spec.Capture{{Name: capName, Status: "failed", Reason: reason}}
	}
	vars := p.vars(rng)
	// A point of a range query at t shows the rate up to t: the first
	// point, at start itself, would describe the time before the window.
	// The series starts one step in, as the local samples do.
	from := start.Add(step)
	if !from.Before(end) {
		from = start
	}
	var problems []string
	for _, q := range p.Queries {
		comp, _ := expand(q.Component, vars)
		expr, _ := expand(q.Expr, vars)
		f := &spec.ResourceUsage{Component: comp, Class: q.Class, Unit: unitOf(q.Class), Source: "prometheus", Query: expr, StepS: step.Seconds()}
		vals, err := api.queryRange(ctx, expr, from, end, step)
		switch {
		case err != nil:
			f.Error = err.Error()
		case len(vals) == 0:
			f.Error = "the query returned no data over the run window"
		default:
			f.Series, f.Used, f.Max = vals, mean(vals), maxOf(vals)
		}
		if f.Error != "" {
			problems = append(problems, comp+"."+q.Class+": "+f.Error)
		}
		if q.Assigned != "" && f.Error == "" {
			a, _ := expand(q.Assigned, vars)
			if av, err := api.queryRange(ctx, a, from, end, step); err == nil && len(av) > 0 && maxOf(av) > 0 {
				f.Assigned = maxOf(av)
			}
		}
		figs = append(figs, f)
	}
	cp := &spec.Capture{Name: capName, Status: "ok"}
	if len(problems) > 0 {
		cp.Status = "partial"
		if len(problems) == len(p.Queries) {
			cp.Status = "empty"
		}
		cp.Reason = strings.Join(problems, "; ")
	}
	return figs, []*spec.Capture{cp}
}

func unitOf(class string) string {
	switch class {
	case "cpu":
		return UnitCPU
	case "memory":
		return UnitMemory
	}
	return ""
}

type apiClient struct {
	base string
	c    *http.Client
}

// apiResponse is the envelope of every /api/v1 answer.
type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
}

func (a apiClient) get(ctx context.Context, path string, q url.Values) (json.RawMessage, error) {
	u := a.base + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := a.c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%s: HTTP %d, not a Prometheus API answer: %.80q", path, resp.StatusCode, body)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s: %s", path, r.ErrorType, r.Error)
	}
	return r.Data, nil
}

// rateRange is the window for rate() and irate(): four scrape intervals
// (Prometheus needs two samples in it, and a scrape may be late or missed),
// at least 4 s. It also proves the server answers.
func (a apiClient) rateRange(ctx context.Context) (string, error) {
	data, err := a.get(ctx, "/api/v1/status/config", nil)
	if err != nil {
		return "", err
	}
	var cfg struct {
		YAML string `json:"yaml"`
	}
	interval := time.Minute // Prometheus's own default scrape interval
	if json.Unmarshal(data, &cfg) == nil {
		var y struct {
			Global struct {
				ScrapeInterval string `yaml:"scrape_interval"`
			} `yaml:"global"`
		}
		if yaml.Unmarshal([]byte(cfg.YAML), &y) == nil {
			if d, err := parsePromDuration(y.Global.ScrapeInterval); err == nil && d > 0 {
				interval = d
			}
		}
	}
	return strconv.Itoa(int(max(4*interval, 4*time.Second)/time.Second)) + "s", nil
}

// parsePromDuration reads Prometheus durations, which Go's parser takes but
// for d, w and y.
func parsePromDuration(s string) (time.Duration, error) {
	for _, u := range []struct {
		suffix string
		d      time.Duration
	}{{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}, {"y", 365 * 24 * time.Hour}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.Atoi(n)
			return time.Duration(v) * u.d, err
		}
	}
	return time.ParseDuration(s)
}

// queryRange runs one range query and returns one value per step; several
// series are summed step by step (a query is meant to aggregate already).
func (a apiClient) queryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]float64, error) {
	q := url.Values{
		"query": {expr},
		"start": {strconv.FormatFloat(float64(start.UnixMilli())/1000, 'f', 3, 64)},
		"end":   {strconv.FormatFloat(float64(end.UnixMilli())/1000, 'f', 3, 64)},
		"step":  {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)},
	}
	data, err := a.get(ctx, "/api/v1/query_range", q)
	if err != nil {
		return nil, err
	}
	var m struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Values [][2]any `json:"values"`
		} `json:"result"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("query_range: %w", err)
	}
	if m.ResultType != "matrix" {
		return nil, fmt.Errorf("query_range: result type %q, want matrix", m.ResultType)
	}
	sum := map[float64]float64{}
	for _, s := range m.Result {
		for _, v := range s.Values {
			ts, ok1 := v[0].(float64)
			str, ok2 := v[1].(string)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("query_range: malformed sample %v", v)
			}
			x, err := strconv.ParseFloat(str, 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				continue // NaN from a 0/0 (no limit set): no value, not zero
			}
			sum[ts] += x
		}
	}
	keys := make([]float64, 0, len(sum))
	for k := range sum {
		keys = append(keys, k)
	}
	sort.Float64s(keys)
	out := make([]float64, len(keys))
	for i, k := range keys {
		out[i] = sum[k]
	}
	return out, nil
}
