package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/stats"
)

// DefaultMaxPoints bounds the points drawn per time series: a 1-hour run's
// 3,600 intervals are merged 6 to a point, which keeps the page small
// (see downsample for what merging keeps).
const DefaultMaxPoints = 600

// Options tune WriteHTML. The zero value is usable.
type Options struct {
	// Title heads the page; empty gives "SMP performance report".
	Title string
	// Names name the results in legends and tables, by position; a
	// missing or empty name falls back to the result's name, labels, id,
	// and finally "result N".
	Names []string
	// Generated is printed as the report's creation time; the zero time
	// leaves it out, so that the same results give the same bytes.
	Generated time.Time
	// MaxPoints bounds the points per time series (DefaultMaxPoints if 0).
	MaxPoints int
	// NoCompare leaves the comparison table out. With several results the
	// first is the baseline and the others are compared with it
	// (package stats).
	NoCompare bool
}

// WriteHTML writes one self-contained HTML page about the results: a
// summary table, the latency percentile spectrum of all results overlaid,
// latency and throughput over time for each result with errors marked, the
// latency histogram, the comparison against the first result when there
// are several, and each result's environment and configuration. Charts are
// inline SVG; a short inline script adds hover read-outs; nothing is loaded
// from anywhere else.
//
// A result whose histogram cannot be decoded is still reported from its
// summary figures, with the problem stated on the page.
func WriteHTML(w io.Writer, results []*spec.PerformanceTestResult, opts Options) error {
	if len(results) == 0 {
		return fmt.Errorf("html report: no results")
	}
	for i, r := range results {
		if r == nil {
			return fmt.Errorf("html report: result %d is empty", i+1)
		}
	}
	if opts.MaxPoints <= 0 {
		opts.MaxPoints = DefaultMaxPoints
	}
	names := uniqueNames(results, opts.Names)
	ls := make([]*loaded, len(results))
	var problems []string
	for i, r := range results {
		l := &loaded{name: names[i], color: color(i), r: r}
		var err error
		if l.h, err = resultHistogram(r); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v; its figures come from the summary fields", l.name, err))
		}
		if l.u, err = resultUncorrected(r); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", l.name, err))
			l.u = nil
		}
		l.intervals, l.groupedBy, l.intervalLen = downsample(r.GetIntervals(), opts.MaxPoints)
		ls[i] = l
	}
	p := &page{
		Title:    opts.Title,
		CSS:      template.CSS(pageCSS),
		JS:       template.JS(pageJS),
		Problems: problems,
	}
	if p.Title == "" {
		p.Title = "SMP performance report"
	}
	if !opts.Generated.IsZero() {
		p.Generated = opts.Generated.UTC().Format(time.RFC3339)
	}
	for _, l := range ls {
		p.Legend = append(p.Legend, named{Name: l.name, Color: l.color})
	}
	for _, l := range ls {
		if h := headline(l.r); h != "" {
			p.Headlines = append(p.Headlines, named{Name: l.name + ": " + h, Color: l.color})
		}
	}
	p.SLOs, p.SLOFailed = slos(ls)
	p.Summary = summaryTable(ls)
	p.Spectrum = template.HTML(spectrumChart(ls))
	p.Histogram = template.HTML(histogramChart(ls))
	for i, l := range ls {
		s := series{Name: l.name, Color: l.color,
			Latency:    template.HTML(latencyChart(l, i)),
			Throughput: template.HTML(throughputChart(l, i)),
		}
		if l.groupedBy > 1 {
			s.Note = fmt.Sprintf("%s intervals drawn as %d points of %s each: p50 and rate are averaged, p99 and max are the highest, errors are summed.",
				formatCount(int64(len(l.r.GetIntervals()))), len(l.intervals), formatSeconds(float64(l.groupedBy)*l.intervalLen))
		}
		if s.Latency == "" && s.Throughput == "" {
			s.Note = "This result has no time series (intervals)."
		}
		p.Series = append(p.Series, s)
		p.Environments = append(p.Environments, environment(l))
	}
	if len(ls) > 1 && !opts.NoCompare {
		p.Comparisons, p.ComparisonProblem = comparisons(ls)
	}
	t, err := template.New("report").Parse(pageTemplate)
	if err != nil {
		return fmt.Errorf("html report: template: %w", err)
	}
	if err := t.Execute(w, p); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	return nil
}

// page is what the template renders.
type page struct {
	Title, Generated string
	// Headlines say what each result measured: URLs, protocol, rate,
	// connections and duration.
	Headlines         []named
	CSS               template.CSS
	JS                template.JS
	Legend            []named
	Problems          []string
	Summary           table
	Spectrum          template.HTML
	Histogram         template.HTML
	Series            []series
	Comparisons       []comparisonView
	ComparisonProblem string
	Environments      []envView
	SLOs              []sloView
	SLOFailed         int
}

type named struct{ Name, Color string }

type table struct {
	Header []named
	Rows   []row
}

type row struct {
	Label string
	Cells []cell
}

type cell struct {
	Text, Class string
}

type series struct {
	Name, Color, Note   string
	Latency, Throughput template.HTML
}

type comparisonView struct {
	Title    string
	Base     string
	Other    string
	Rows     []row
	Verdict  string
	Caveats  []string
	Interval string
	Method   string
}

// sloView is one result's service-level objectives with their verdicts.
type sloView struct {
	Name, Color string
	Checks      []sloCheckView
}

type sloCheckView struct {
	Objective, Measured, Verdict, Class string
}

// slos lists the SLO checks the results carry (slo_checks), for the top of
// the report: the verdict a reader looks for first.
func slos(ls []*loaded) (out []sloView, failed int) {
	for _, l := range ls {
		v := sloView{Name: l.name, Color: l.color}
		for _, c := range l.r.GetSloChecks() {
			cv := sloCheckView{Objective: c.GetObjective(), Verdict: "ok", Class: "better"}
			if !c.GetPass() {
				cv.Verdict, cv.Class = "FAILED", "worse"
				failed++
			}
			if c.GetError() != "" {
				cv.Measured = c.GetError()
			} else {
				cv.Measured = c.GetMetric() + " = " + stats.FormatValue(c.GetMeasured()) + " " + c.GetUnit()
			}
			v.Checks = append(v.Checks, cv)
		}
		if len(v.Checks) > 0 {
			out = append(out, v)
		}
	}
	return out, failed
}

func prefixed(p string, xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = p + x
	}
	return out
}

type envView struct {
	Name, Color string
	Facts       [][2]string
	YAML        string
}

// headline says what a result measured, from its config and figures:
// "http://127.0.0.1:8080/ · HTTP · 1000/s requested · 8 connections · 10s".
func headline(r *spec.PerformanceTestResult) string {
	var parts []string
	cfg := r.GetConfig()
	var urls, protos []string
	conns := 0
	seen := map[string]bool{}
	for _, c := range cfg.GetClients() {
		for _, u := range c.GetEndpointUrls() {
			if !seen[u] {
				seen[u] = true
				urls = append(urls, u)
			}
		}
		p := strings.TrimPrefix(c.GetProtocol().String(), "PROTOCOL_")
		if c.GetHttp2() {
			p = "HTTP/2"
		}
		if p != "INVALID" && !seen["proto "+p] {
			seen["proto "+p] = true
			protos = append(protos, p)
		}
		conns += int(c.GetConnections())
	}
	if len(urls) > 3 {
		urls = append(urls[:3], fmt.Sprintf("and %d more", len(urls)-3))
	}
	if len(urls) > 0 {
		parts = append(parts, strings.Join(urls, ", "))
	}
	if len(protos) > 0 {
		parts = append(parts, strings.Join(protos, ", "))
	}
	switch q := r.GetRequestedQps(); {
	case q > 0:
		parts = append(parts, strconv.FormatFloat(q, 'f', -1, 64)+"/s requested")
	case len(cfg.GetClients()) > 0:
		parts = append(parts, "closed loop")
	}
	if conns > 0 {
		parts = append(parts, fmt.Sprintf("%d connections", conns))
	}
	if d := r.GetDurationS(); d > 0 {
		parts = append(parts, formatSeconds(d))
	}
	return strings.Join(parts, " · ")
}

// uniqueNames names every result, and makes equal names distinct so that
// legends stay unambiguous.
func uniqueNames(results []*spec.PerformanceTestResult, given []string) []string {
	out := make([]string, len(results))
	seen := map[string]int{}
	for i, r := range results {
		n := resultName(r, given, i)
		seen[n]++
		if seen[n] > 1 {
			n = fmt.Sprintf("%s (%d)", n, seen[n])
		}
		out[i] = n
	}
	return out
}

// resultName is given[i], else the result's name, labels or id, else
// "result N".
func resultName(r *spec.PerformanceTestResult, given []string, i int) string {
	if i < len(given) && strings.TrimSpace(given[i]) != "" {
		return given[i]
	}
	if n := firstNonEmpty(resultLabel(r), r.GetConfig().GetName(), r.GetTestId(), r.GetId()); n != "" {
		return n
	}
	return fmt.Sprintf("result %d", i+1)
}

// latencyAt is percentile p of a result in ms: from percentiles_ms, else
// latencies_ms (p50, p90, p99), else the histogram; NaN when unknown.
func latencyAt(l *loaded, p float64) float64 {
	for _, pc := range l.r.GetPercentilesMs() {
		if math.Abs(pc.GetPercentile()-p) < 1e-9 {
			return pc.GetValue()
		}
	}
	if lat := l.r.GetLatenciesMs(); lat != nil {
		switch p {
		case 50:
			return lat.GetP50()
		case 90:
			return lat.GetP90()
		case 99:
			return lat.GetP99()
		}
	}
	if l.h != nil && l.h.Count() > 0 {
		return durMs(l.h.Percentile(p))
	}
	return math.NaN()
}

func summaryTable(ls []*loaded) table {
	var t table
	for _, l := range ls {
		t.Header = append(t.Header, named{Name: l.name, Color: l.color})
	}
	add := func(label string, get func(l *loaded) string) {
		r := row{Label: label}
		any := false
		for _, l := range ls {
			v := get(l)
			if v != "" {
				any = true
			} else {
				v = "–"
			}
			r.Cells = append(r.Cells, cell{Text: v})
		}
		if any {
			t.Rows = append(t.Rows, r)
		}
	}
	ms := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return formatMs(v)
	}
	add("started", func(l *loaded) string {
		if t := l.r.GetStartTime(); t != nil {
			return t.AsTime().UTC().Format("2006-01-02 15:04:05Z")
		}
		return ""
	})
	add("duration", func(l *loaded) string {
		if d := l.r.GetDurationS(); d > 0 {
			return formatSeconds(d)
		}
		return ""
	})
	add("requests", func(l *loaded) string {
		if rq := l.r.GetRequests(); rq != nil {
			return formatCount(rq.GetTotal())
		}
		return ""
	})
	add("errors", func(l *loaded) string {
		rq := l.r.GetRequests()
		if rq == nil || rq.GetTotal() == 0 {
			return ""
		}
		return fmt.Sprintf("%s (%s%%)", formatCount(rq.GetErrors()), trimFloat(100*float64(rq.GetErrors())/float64(rq.GetTotal()), 3))
	})
	add("requested rate", func(l *loaded) string {
		if q := l.r.GetRequestedQps(); q > 0 {
			return trimFloat(q, 6) + "/s"
		}
		if l.r.GetRequests() != nil || l.r.GetActualQps() > 0 {
			return "max (closed loop)"
		}
		return ""
	})
	add("actual rate", func(l *loaded) string {
		if q := l.r.GetActualQps(); q > 0 {
			return trimFloat(q, 6) + "/s"
		}
		return ""
	})
	add("latency min", func(l *loaded) string {
		if lat := l.r.GetLatenciesMs(); lat != nil {
			return ms(lat.GetMin())
		}
		return ""
	})
	add("latency mean", func(l *loaded) string {
		if lat := l.r.GetLatenciesMs(); lat != nil {
			return ms(lat.GetAverage())
		}
		return ""
	})
	for _, pc := range []float64{50, 90, 99, 99.9, 99.99} {
		add("p"+trimFloat(pc, 4), func(l *loaded) string { return ms(latencyAt(l, pc)) })
	}
	add("latency max", func(l *loaded) string {
		if lat := l.r.GetLatenciesMs(); lat != nil && lat.GetMax() > 0 {
			return ms(lat.GetMax())
		}
		if l.h != nil && l.h.Count() > 0 {
			return ms(durMs(l.h.Max()))
		}
		return ""
	})
	add("uncorrected p50 / p99 / max", func(l *loaded) string {
		u := l.r.GetUncorrectedLatenciesMs()
		if u == nil {
			return ""
		}
		return ms(u.GetP50()) + " / " + ms(u.GetP99()) + " / " + ms(u.GetMax())
	})
	add("generator lateness p99", func(l *loaded) string {
		g := l.r.GetGenerator()
		if g == nil || (g.GetLatenessP99Ms() == 0 && g.GetLateSends() == 0) {
			return ""
		}
		return fmt.Sprintf("%s (%s late sends)", ms(g.GetLatenessP99Ms()), formatCount(g.GetLateSends()))
	})
	add("status codes", func(l *loaded) string {
		codes := make([]int, 0, len(l.r.GetStatusCodes()))
		for c := range l.r.GetStatusCodes() {
			codes = append(codes, int(c))
		}
		sort.Ints(codes)
		parts := make([]string, 0, len(codes))
		for _, c := range codes {
			parts = append(parts, fmt.Sprintf("%d: %s", c, formatCount(l.r.GetStatusCodes()[int32(c)])))
		}
		return strings.Join(parts, ", ")
	})
	add("error reasons", func(l *loaded) string {
		keys := make([]string, 0, len(l.r.GetErrors()))
		for k := range l.r.GetErrors() {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, k+": "+formatCount(l.r.GetErrors()[k]))
		}
		return strings.Join(parts, ", ")
	})
	add("runs", func(l *loaded) string {
		if n := len(l.r.GetRuns()); n > 0 {
			return strconv.Itoa(n)
		}
		return ""
	})
	add("partial", func(l *loaded) string {
		if l.r.GetPartial() {
			return firstNonEmpty(l.r.GetPartialReason(), "yes")
		}
		return ""
	})
	return t
}

// comparisons compares every result with the first, through package stats
// (each run of a result is one sample).
func comparisons(ls []*loaded) ([]comparisonView, string) {
	base := ls[0]
	var out []comparisonView
	for _, l := range ls[1:] {
		cs, err := stats.CompareAll([]*spec.PerformanceTestResult{base.r, l.r}, []string{base.name, l.name}, stats.Options{})
		if err != nil {
			return out, err.Error()
		}
		c := cs[0]
		v := comparisonView{
			Title:    l.name + " vs " + base.name,
			Base:     base.name,
			Other:    l.name,
			Verdict:  c.Verdict(),
			Caveats:  append(c.Caveats(), prefixed("warning: ", c.Warnings)...),
			Method:   c.Method(),
			Interval: trimFloat(100*c.Confidence, 3) + "% interval",
		}
		for _, mc := range c.Metrics {
			r := row{Label: fmt.Sprintf("%s (%s)", mc.Metric, mc.Metric.Unit())}
			interval := "–"
			if mc.HasChangeInterval {
				interval = stats.FormatInterval(mc.ChangeLow, mc.ChangeHigh)
			}
			pval := "–"
			if mc.HasTest {
				pval = strings.TrimPrefix(mc.PText(), "p=")
			}
			// The verdict is the one every other format prints
			// (Comparison.Status and ChangeCell): coloured only when
			// significant after the family-wise correction.
			changeClass := ""
			switch c.Status(mc) {
			case stats.StatusWorse:
				changeClass = "worse"
			case stats.StatusBetter:
				changeClass = "better"
			}
			change := c.ChangeCell(mc)
			if change == "" {
				change = "–"
			}
			r.Cells = []cell{
				{Text: summaryText(mc.Base)},
				{Text: summaryText(mc.Other)},
				{Text: change, Class: changeClass},
				{Text: interval},
				{Text: pval},
			}
			v.Rows = append(v.Rows, r)
		}
		out = append(out, v)
	}
	return out, ""
}

// summaryText prints a metric's median over runs, with its interval when
// the number of runs supports one.
func summaryText(s stats.Summary) string {
	if s.N == 0 {
		return "–"
	}
	v := stats.FormatValue(s.Median)
	if s.HasInterval {
		v += " [" + stats.FormatValue(s.Low) + ", " + stats.FormatValue(s.High) + "]"
	}
	if s.N > 1 {
		v += fmt.Sprintf(" (%d runs)", s.N)
	}
	return v
}

// environment lists what a result says about where and how it ran, and
// the full configuration as YAML.
func environment(l *loaded) envView {
	r := l.r
	v := envView{Name: l.name, Color: l.color}
	add := func(k, val string) {
		if strings.TrimSpace(val) != "" {
			v.Facts = append(v.Facts, [2]string{k, val})
		}
	}
	cfg := r.GetConfig()
	add("test", firstNonEmpty(cfg.GetName(), r.GetTestId()))
	add("duration (configured)", cfg.GetDuration())
	add("warm-up", cfg.GetWarmup())
	for i, c := range cfg.GetClients() {
		prefix := "client"
		if len(cfg.GetClients()) > 1 {
			prefix = fmt.Sprintf("client %d", i+1)
		}
		desc := []string{strings.TrimPrefix(c.GetProtocol().String(), "PROTOCOL_")}
		if c.GetConnections() > 0 {
			desc = append(desc, fmt.Sprintf("%d connections", c.GetConnections()))
		}
		if c.GetRps() > 0 {
			desc = append(desc, fmt.Sprintf("%d req/s", c.GetRps()))
		}
		if c.GetLoadGenerator() != "" {
			desc = append(desc, "generator "+c.GetLoadGenerator())
		}
		add(prefix, strings.Join(desc, ", "))
		add(prefix+" endpoints", strings.Join(c.GetEndpointUrls(), " "))
	}
	if m := r.GetMesh(); m != nil {
		add("mesh", strings.TrimSpace(m.GetType().String()+" "+m.GetVersion()))
	} else if m := cfg.GetMesh(); m != nil {
		add("mesh", strings.TrimSpace(m.GetType().String()+" "+m.GetVersion()))
	}
	if e := r.GetEnvironment(); e != nil {
		add("Kubernetes", e.GetKubernetesVersion())
		for i, n := range e.GetNodes() {
			add(fmt.Sprintf("node %d", i+1), fmt.Sprintf("%s, %d cores, %d MiB", n.GetType(), n.GetCores(), n.GetMemMb()))
		}
	}
	if g := r.GetGenerator(); g != nil {
		add("load generator", strings.TrimSpace(g.GetName()+" "+g.GetVersion()))
		host := g.GetHost()
		if g.GetCpus() > 0 {
			host = strings.TrimSpace(fmt.Sprintf("%s (%d CPUs)", host, g.GetCpus()))
		}
		add("generator host", host)
	}
	keys := make([]string, 0, len(r.GetLabels()))
	for k := range r.GetLabels() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add("label "+k, r.GetLabels()[k])
	}
	// The configuration and environment in full, without the measurements.
	doc := &spec.PerformanceTestResult{
		Config:      r.GetConfig(),
		Environment: r.GetEnvironment(),
		Mesh:        r.GetMesh(),
		MeshConfig:  r.GetMeshConfig(),
		Generator:   r.GetGenerator(),
	}
	if y, err := spec.Encode(doc, "yaml"); err == nil && len(strings.TrimSpace(string(y))) > 2 {
		v.YAML = string(y)
	}
	return v
}

const pageTemplate = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="smp">
<title>{{.Title}}</title>
<style>{{.CSS}}</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
<p class="meta">{{range $i, $n := .Legend}}{{if $i}} · {{end}}<span class="swatch" style="background:{{$n.Color}}"></span>{{$n.Name}}{{end}}{{if .Generated}} — generated {{.Generated}}{{end}}</p>
<nav>{{if .SLOs}}<a href="#slo">SLOs</a>{{end}}<a href="#summary">Summary</a><a href="#spectrum">Percentiles</a><a href="#time">Over time</a><a href="#histogram">Histogram</a>{{if .Comparisons}}<a href="#comparison">Comparison</a>{{end}}<a href="#environment">Environment</a></nav>
{{range .Headlines}}<p class="headline"><span class="swatch" style="background:{{.Color}}"></span>{{.Name}}</p>{{end}}
{{range .Problems}}<p class="problem">{{.}}</p>{{end}}
{{if .SLOs}}<h2 id="slo">Service-level objectives</h2>
<p class="verdict {{if .SLOFailed}}worse{{else}}better{{end}}">{{if .SLOFailed}}{{.SLOFailed}} objective(s) FAILED{{else}}every objective met{{end}}</p>
<table class="slo">
<thead><tr><th>result</th><th>objective</th><th>verdict</th><th>measured</th></tr></thead>
<tbody>{{range .SLOs}}{{$v := .}}{{range .Checks}}<tr><td><span class="swatch" style="background:{{$v.Color}}"></span>{{$v.Name}}</td><td>{{.Objective}}</td><td class="{{.Class}}">{{.Verdict}}</td><td>{{.Measured}}</td></tr>{{end}}{{end}}</tbody>
</table>
{{end}}

<h2 id="summary">Summary</h2>
<p class="note">Latency is measured from each request's intended send time (corrected for coordinated omission) unless the result came from a tool that does not (see the load generator below).</p>
<table class="summary">
<thead><tr><th></th>{{range .Summary.Header}}<th><span class="swatch" style="background:{{.Color}}"></span>{{.Name}}</th>{{end}}</tr></thead>
<tbody>{{range .Summary.Rows}}<tr><td>{{.Label}}</td>{{range .Cells}}<td>{{.Text}}</td>{{end}}</tr>{{end}}</tbody>
</table>

<h2 id="spectrum">Latency by percentile</h2>
<p class="note">x: percentile on a 1/(1−p) scale, so that each further "9" gets the same room; y: latency, log scale. Dashed: uncorrected latency (from the actual send).</p>
{{if .Spectrum}}{{.Spectrum}}{{else}}<p class="note">No result has a histogram or percentiles to draw.</p>{{end}}

<h2 id="time">Over time</h2>
{{range .Series}}<h3><span class="swatch" style="background:{{.Color}}"></span>{{.Name}}</h3>
{{if .Note}}<p class="note">{{.Note}}</p>{{end}}{{.Latency}}{{.Throughput}}
{{end}}

<h2 id="histogram">Latency histogram</h2>
{{if .Histogram}}<p class="note">Share of requests by latency, in bins of equal width on a log scale.</p>{{.Histogram}}{{else}}<p class="note">No result has a latency histogram.</p>{{end}}

{{if .Comparisons}}<h2 id="comparison">Comparison</h2>
<p class="note">Each result against the first. Each run of a result is one sample: median over runs [its interval], change of the medians with a Hodges–Lehmann interval, and the Mann–Whitney p value (raw→adjusted for the metrics tested together). Coloured changes are significant after the correction; ~ is no significant difference, (…) too few runs to test: the same verdicts as smp compare.</p>
{{range .Comparisons}}<h3>{{.Title}}</h3>
<table class="comparison">
<thead><tr><th>metric</th><th>{{.Base}}</th><th>{{.Other}}</th><th>change</th><th>{{.Interval}}</th><th>p</th></tr></thead>
<tbody>{{range .Rows}}<tr><td>{{.Label}}</td>{{range .Cells}}<td{{if .Class}} class="{{.Class}}"{{end}}>{{.Text}}</td>{{end}}</tr>{{end}}</tbody>
</table>
<p>{{.Verdict}}</p>
<p class="note">{{.Method}}</p>
{{range .Caveats}}<p class="caveats">{{.}}</p>{{end}}
{{end}}{{end}}{{if .ComparisonProblem}}<p class="problem">Comparison: {{.ComparisonProblem}}</p>{{end}}

<h2 id="environment">Environment and configuration</h2>
{{range .Environments}}<h3><span class="swatch" style="background:{{.Color}}"></span>{{.Name}}</h3>
{{if .Facts}}<table class="facts"><tbody>{{range .Facts}}<tr><td>{{index . 0}}</td><td style="text-align:left">{{index . 1}}</td></tr>{{end}}</tbody></table>{{else}}<p class="note">The result carries no configuration or environment.</p>{{end}}
{{if .YAML}}<details><summary>configuration and environment as YAML</summary><pre>{{.YAML}}</pre></details>{{end}}
{{end}}
</main>
<div id="tip"></div>
<script>{{.JS}}</script>
</body>
</html>
`
