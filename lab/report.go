package lab

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/smp-project/smp/report"
	"github.com/smp-project/smp/spec"
	"github.com/smp-project/smp/stats"
)

// row is one variant at one level, as the tables show it.
type row struct {
	Variant                          string
	Runs                             int
	Requests                         int64
	Actual                           float64
	Min, Mean, P50, P99, Max         float64 // ms, successful answers; NaN when none
	ErrorsPct                        float64
	Failed                           int64
	FailedP50, FailedP99, FailedMean float64 // ms, failed (terminated) requests; NaN when none
}

func rowOf(name string, r *spec.PerformanceTestResult) row {
	rw := row{Variant: name, Runs: max(len(r.GetRuns()), 1), Requests: r.GetRequests().GetTotal(), Actual: r.GetActualQps(),
		Min: math.NaN(), Mean: math.NaN(), P50: math.NaN(), P99: math.NaN(), Max: math.NaN(),
		FailedP50: math.NaN(), FailedP99: math.NaN(), FailedMean: math.NaN(), Failed: r.GetRequests().GetErrors()}
	if l := r.GetLatenciesMs(); l != nil {
		rw.Min, rw.Mean, rw.Max = l.GetMin(), l.GetAverage(), l.GetMax()
	}
	if v, ok := stats.Value(r, stats.P50); ok {
		rw.P50 = v
	}
	if v, ok := stats.Value(r, stats.P99); ok {
		rw.P99 = v
	}
	rw.ErrorsPct, _ = stats.Value(r, stats.Errors)
	if e := r.GetErrorLatenciesMs(); e != nil {
		rw.FailedP50, rw.FailedP99, rw.FailedMean = e.GetP50(), e.GetP99(), e.GetAverage()
	}
	return rw
}

func ms(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return stats.FormatValue(v)
}

// rows are the rows of a level.
func (lr *LevelResult) rows() ([]row, error) {
	var out []row
	for i := range lr.Variants {
		r, err := lr.Variants[i].SMP()
		if err != nil {
			return nil, err
		}
		out = append(out, rowOf(lr.Variants[i].Name, r))
	}
	return out, nil
}

// WriteText writes the experiment's summary: a table per level, the
// comparisons with the baseline, the capacities.
func (res *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "experiment %s: %d runs a variant a level, %s order (seed %d), baseline %s\n", res.Name, res.Runs, res.Order, res.Seed, res.Baseline)
	if res.Partial {
		fmt.Fprintf(&b, "PARTIAL: %s\n", res.PartialReason)
	}
	for i := range res.Levels {
		lr := &res.Levels[i]
		rows, err := lr.rows()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "\nat %g/s requested (latency in ms; successful answers, then failed ones)\n", lr.Rate)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprint(tw, "variant\truns\trequests\tactual/s\tmin\tmean\tp50\tp99\tmax\terrors\tfailed p50\tfailed p99\t\n")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\t%s\t%.2f%%\t%s\t%s\t\n", r.Variant, r.Runs, r.Requests, r.Actual,
				ms(r.Min), ms(r.Mean), ms(r.P50), ms(r.P99), ms(r.Max), r.ErrorsPct, ms(r.FailedP50), ms(r.FailedP99))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if len(lr.cmps) > 0 {
			b.WriteString("\n")
			if err := stats.WriteComparisons(&b, lr.cmps, "text"); err != nil {
				return err
			}
		}
	}
	if len(res.Capacities) > 0 {
		b.WriteString("\ncapacity (p99 and error objectives, actual rate within 3% of the requested)\n")
		for _, c := range res.Capacities {
			fmt.Fprintf(&b, "  %s\n", c.text())
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (c CapacityResult) text() string {
	switch {
	case c.Capacity == 0:
		return fmt.Sprintf("%s: none (%s)", c.Variant, c.Note)
	case c.High > 0:
		return fmt.Sprintf("%s: %.6g/s (between %.6g/s, confirmed by %d runs, and %.6g/s, which failed; %d search runs)",
			c.Variant, c.Capacity, c.Low, c.Confirmed, c.High, len(c.Steps))
	}
	return fmt.Sprintf("%s: at least %.6g/s (%s)", c.Variant, c.Capacity, c.Note)
}

// WriteHTML writes the experiment's self-contained report.
func (res *Result) WriteHTML(w io.Writer) error {
	type level struct {
		Rate        float64
		Rows        []row
		Comparisons string
	}
	page := struct {
		R          *Result
		Levels     []level
		Latency    template.HTML
		Throughput template.HTML
		Failed     template.HTML
		Capacities []string
		Ms         func(float64) string
	}{R: res, Ms: ms}
	names := map[string]int{}
	var order []string
	for i := range res.Levels {
		lr := &res.Levels[i]
		rows, err := lr.rows()
		if err != nil {
			return err
		}
		l := level{Rate: lr.Rate, Rows: rows}
		if len(lr.cmps) > 0 {
			var b strings.Builder
			if err := stats.WriteComparisons(&b, lr.cmps, "text"); err != nil {
				return err
			}
			l.Comparisons = b.String()
		}
		page.Levels = append(page.Levels, l)
		for _, r := range rows {
			if _, ok := names[r.Variant]; !ok {
				names[r.Variant] = len(order)
				order = append(order, r.Variant)
			}
		}
	}
	if len(page.Levels) > 0 {
		var lat, thr, fail []report.Line
		for vi, name := range order {
			var xs, p50, p99, act, fp50 []float64
			for _, l := range page.Levels {
				for _, r := range l.Rows {
					if r.Variant == name {
						xs = append(xs, l.Rate)
						p50, p99, act, fp50 = append(p50, r.P50), append(p99, r.P99), append(act, r.Actual), append(fp50, r.FailedP50)
					}
				}
			}
			lat = append(lat, report.Line{Label: name + " p99", Color: vi, X: xs, Y: p99}, report.Line{Label: name + " p50", Color: vi, Dash: "4 3", X: xs, Y: p50})
			thr = append(thr, report.Line{Label: name, Color: vi, X: xs, Y: act})
			fail = append(fail, report.Line{Label: name + " forwarded p50", Color: vi, X: xs, Y: p50}, report.Line{Label: name + " terminated p50", Color: vi, Dash: "2 3", X: xs, Y: fp50})
		}
		page.Latency = template.HTML(report.LineChart("latency", "latency against load", "requested rate (requests/s)", "latency (ms)", lat, true))
		page.Throughput = template.HTML(report.LineChart("throughput", "rate sent against rate requested", "requested rate (requests/s)", "actual rate (requests/s)", thr, false))
		page.Failed = template.HTML(report.LineChart("failed", "forwarded and terminated requests", "requested rate (requests/s)", "p50 latency (ms)", fail, true))
	}
	for _, c := range res.Capacities {
		page.Capacities = append(page.Capacities, c.text())
	}
	t, err := template.New("lab").Parse(labPage)
	if err != nil {
		return err
	}
	return t.Execute(w, page)
}

const labPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="generator" content="smp lab">
<title>{{.R.Name}} — smp lab</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1100px; color: #1f2328; padding: 0 16px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 10px; border-bottom: 1px solid #d0d7de; text-align: right; }
th:first-child, td:first-child { text-align: left; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; padding: 10px; overflow-x: auto; font-size: 12px; }
.chart text { font-size: 11px; fill: #57606a; } .chart .grid line { stroke: #eaeef2; } .chart .frame { fill: none; stroke: #d0d7de; }
.chart .xt { text-anchor: middle; } .chart .yt { text-anchor: end; } .chart .xtitle { text-anchor: middle; } .chart .ytitle { text-anchor: middle; }
.partial { color: #b42318; } .meta { color: #57606a; }
</style></head><body>
<h1>{{.R.Name}}</h1>
{{if .R.Description}}<p>{{.R.Description}}</p>{{end}}
<p class="meta">{{.R.Started.Format "2006-01-02 15:04:05 MST"}} · {{.R.Runs}} runs of each variant at each level, {{.R.Order}} order (seed {{.R.Seed}}) · baseline {{.R.Baseline}}</p>
{{if .R.Partial}}<p class="partial">Partial: {{.R.PartialReason}}</p>{{end}}
{{if .Levels}}
<h2>Latency against load</h2>
<p class="meta">Successful answers; p99 solid, p50 dashed. Each point is every run of the variant at that rate merged.</p>
{{.Latency}}
<h2>Client capacity: rate sent against rate requested</h2>
<p class="meta">Where a line falls below the diagonal, the client and the path behind it could not keep the schedule.</p>
{{.Throughput}}
<h2>Forwarded and terminated requests</h2>
<p class="meta">p50 of successful answers (forwarded to the app) and of failed ones (terminated: a local 429 from a rate limiter, a 503 from the app).</p>
{{.Failed}}
{{range .Levels}}
<h2>At {{.Rate}}/s</h2>
<table><thead><tr><th>variant</th><th>runs</th><th>requests</th><th>actual/s</th><th>min ms</th><th>mean ms</th><th>p50 ms</th><th>p99 ms</th><th>max ms</th><th>errors</th><th>failed</th><th>failed p50 ms</th><th>failed p99 ms</th></tr></thead><tbody>
{{range .Rows}}<tr><td>{{.Variant}}</td><td>{{.Runs}}</td><td>{{.Requests}}</td><td>{{printf "%.1f" .Actual}}</td><td>{{call $.Ms .Min}}</td><td>{{call $.Ms .Mean}}</td><td>{{call $.Ms .P50}}</td><td>{{call $.Ms .P99}}</td><td>{{call $.Ms .Max}}</td><td>{{printf "%.2f%%" .ErrorsPct}}</td><td>{{.Failed}}</td><td>{{call $.Ms .FailedP50}}</td><td>{{call $.Ms .FailedP99}}</td></tr>
{{end}}</tbody></table>
{{if .Comparisons}}<pre>{{.Comparisons}}</pre>{{end}}
{{end}}{{end}}
{{if .Capacities}}<h2>Capacity</h2><ul>{{range .Capacities}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body></html>
`
