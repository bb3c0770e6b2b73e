package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/smp-project/smp/hist"
	"github.com/smp-project/smp/spec"
)

// Chart sizes, in CSS pixels; the SVGs scale with the page width.
const (
	chartWidth  = 900
	chartHeight = 340
	smallHeight = 240
	// spectrumDecades is how far the spectrum reaches: 1/(1−p) = 10^5,
	// p = 99.999%.
	spectrumDecades = 5
	// spectrumPoints per curve: ~50 per decade is smooth at this width.
	spectrumPoints = 251
	// histogramBinsPerDecade sets the histogram's resolution.
	histogramBinsPerDecade = 20
)

// loaded is one result with what the charts need, decoded once.
type loaded struct {
	name        string
	color       string
	r           *spec.PerformanceTestResult
	h, u        *hist.Histogram // corrected and uncorrected, nil when absent
	intervals   []point         // downsampled
	groupedBy   int             // intervals per drawn point
	intervalLen float64         // seconds per original interval
}

// point is one (possibly merged) interval of the time series.
type point struct {
	offset, length     float64
	requests, errors   int64
	qps, p50, p99, max float64
}

// downsample merges consecutive intervals so that at most maxPoints
// remain. Each merged point keeps what a reader looks for: the mean of p50
// and of the rate, the highest p99 and max, and the summed requests and
// errors — a short burst of errors or a latency spike is never averaged
// away.
func downsample(ivs []*spec.PerformanceTestResult_Interval, maxPoints int) (pts []point, k int, step float64) {
	n := len(ivs)
	if n == 0 {
		return nil, 1, 1
	}
	// The length of an interval is the gap to the next; the last takes the
	// step before it (or 1 s, the engine's default).
	lengths := make([]float64, n)
	for i := range ivs {
		switch {
		case i+1 < n:
			lengths[i] = ivs[i+1].GetOffsetS() - ivs[i].GetOffsetS()
		case i > 0:
			lengths[i] = lengths[i-1]
		default:
			lengths[i] = 1
		}
		if !(lengths[i] > 0) {
			lengths[i] = 1
		}
	}
	step = lengths[0]
	counted := countsLatencies(ivs)
	k = max(1, (n+maxPoints-1)/maxPoints)
	for i := 0; i < n; i += k {
		end := min(n, i+k)
		p := point{offset: ivs[i].GetOffsetS(), p50: 0, p99: math.NaN(), max: math.NaN()}
		var p50sum, qpsSum float64
		var p50n int
		for j := i; j < end; j++ {
			iv := ivs[j]
			p.length += lengths[j]
			p.requests += iv.GetRequests()
			p.errors += iv.GetErrors()
			qpsSum += iv.GetActualQps()
			if answered(iv, counted) {
				p50sum += iv.GetP50Ms()
				p50n++
				p.p99 = nanMax(p.p99, iv.GetP99Ms())
				p.max = nanMax(p.max, iv.GetMaxMs())
			}
		}
		p.qps = qpsSum / float64(end-i)
		p.p50 = math.NaN()
		if p50n > 0 {
			p.p50 = p50sum / float64(p50n)
		}
		pts = append(pts, p)
	}
	return pts, k, step
}

// countsLatencies reports whether a series says how many latencies each
// interval has (results from smp since the field exists).
func countsLatencies(ivs []*spec.PerformanceTestResult_Interval) bool {
	for _, iv := range ivs {
		if iv.GetLatencies() > 0 {
			return true
		}
	}
	return false
}

// answered reports whether an interval has latency figures: an interval
// in which nothing was answered (a stall) has none, and draws as a gap, not
// as 0 ms. Older results do not count latencies; there an interval with
// requests or a p50 is taken as answered.
func answered(iv *spec.PerformanceTestResult_Interval, counted bool) bool {
	if counted {
		return iv.GetLatencies() > 0
	}
	return iv.GetRequests() > 0 || iv.GetP50Ms() > 0
}

func nanMax(a, b float64) float64 {
	if math.IsNaN(a) {
		return b
	}
	return math.Max(a, b)
}

// positive replaces values a log axis cannot show with NaN (a gap).
func positive(v float64) float64 {
	if v > 0 {
		return v
	}
	return math.NaN()
}

// spectrumXs are the points of the spectrum: x = log10(1/(1−p)) evenly
// from 0 to spectrumDecades, and their percentiles.
func spectrumXs() (xs, ps []float64) {
	for i := 0; i < spectrumPoints; i++ {
		x := float64(i) * spectrumDecades / float64(spectrumPoints-1)
		xs = append(xs, x)
		ps = append(ps, 100*(1-math.Pow(10, -x)))
	}
	return xs, ps
}

// percentileX places percentile p (0..100) on the spectrum's x axis.
func percentileX(p float64) float64 {
	if p >= 100 {
		return spectrumDecades
	}
	return math.Min(spectrumDecades, -math.Log10(1-p/100))
}

// spectrumChart draws the latency percentile spectrum of every result,
// HdrHistogram's classic plot: x is 1/(1−p) on a log scale, so that 90%,
// 99%, 99.9%... are evenly spaced and the tail gets the room it deserves.
func spectrumChart(ls []*loaded) string {
	c := newChart("chart-spectrum", "spectrum", chartWidth, chartHeight)
	xs, ps := spectrumXs()
	type curve struct {
		xs, ys []float64
		color  string
		dash   string
		label  string
		dots   bool
	}
	var curves []curve
	var legend []legendEntry
	lo, hi := math.Inf(1), math.Inf(-1)
	track := func(ys []float64) {
		for _, y := range ys {
			if y > 0 {
				lo, hi = math.Min(lo, y), math.Max(hi, y)
			}
		}
	}
	for _, l := range ls {
		switch {
		case l.h != nil && l.h.Count() > 0:
			ys := valuesMs(l.h, ps)
			track(ys)
			curves = append(curves, curve{xs: xs, ys: ys, color: l.color, label: l.name})
			legend = append(legend, legendEntry{label: l.name, color: l.color})
			if l.u != nil && l.u.Count() > 0 {
				uy := valuesMs(l.u, ps)
				track(uy)
				curves = append(curves, curve{xs: xs, ys: uy, color: l.color, dash: "5 4", label: l.name + " (uncorrected)"})
				legend = append(legend, legendEntry{label: l.name + " (uncorrected)", color: l.color, dash: "5 4"})
			}
		default:
			// Without a histogram, the percentiles the result states.
			var px, py []float64
			for _, s := range summaryPercentiles(l.r) {
				if s.p < 100 { // the maximum has no place on a 1/(1−p) axis
					px = append(px, percentileX(s.p))
					py = append(py, positive(s.v))
				}
			}
			if len(px) == 0 {
				continue
			}
			track(py)
			curves = append(curves, curve{xs: px, ys: py, color: l.color, label: l.name + " (stated percentiles)", dots: true})
			legend = append(legend, legendEntry{label: l.name + " (stated percentiles)", color: l.color})
		}
	}
	if len(curves) == 0 {
		return ""
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0.001, 1
	}
	c.x.lo, c.x.hi = 0, spectrumDecades
	for i := 0; i <= spectrumDecades; i++ {
		c.x.ticks = append(c.x.ticks, float64(i))
		c.x.tickLabels = append(c.x.tickLabels, percentileLabel(100*(1-math.Pow(10, -float64(i)))))
	}
	c.y.log = true
	c.y.lo, c.y.hi, c.y.ticks = logTicks(lo, hi*1.05)
	for _, t := range c.y.ticks {
		c.y.tickLabels = append(c.y.tickLabels, formatMs(t))
	}
	c.axes("percentile", "latency")
	for _, cv := range curves {
		if cv.dots {
			c.polyline(cv.xs, cv.ys, cv.color, 1.5, "2 3", cv.label)
			c.dots(cv.xs, cv.ys, cv.color, cv.label)
			continue
		}
		c.polyline(cv.xs, cv.ys, cv.color, 2, cv.dash, cv.label)
	}
	c.legend(legend)
	// Hover: every fifth sample is plenty for a read-out.
	for i := 0; i < len(xs); i += 5 {
		var parts []string
		for _, cv := range curves {
			if cv.dots || math.IsNaN(cv.ys[i]) {
				continue
			}
			parts = append(parts, cv.label+": "+formatMs(cv.ys[i]))
		}
		if len(parts) > 0 {
			c.hover(c.x.pos(xs[i]), "p"+percentileLabel(ps[i])+"\n"+strings.Join(parts, "\n"))
		}
	}
	return c.svg("Latency by percentile")
}

// valuesMs reads the histogram at each percentile, in milliseconds.
func valuesMs(h *hist.Histogram, ps []float64) []float64 {
	vs := h.Percentiles(ps)
	out := make([]float64, len(vs))
	for i, v := range vs {
		out[i] = positive(durMs(v))
	}
	return out
}

// percentileLabel prints 0%, 90%, 99.9%, 99.999%.
func percentileLabel(p float64) string {
	if p >= 99.99999 {
		return "99.999%"
	}
	return trimFloat(p, int(math.Max(2, math.Ceil(-math.Log10(math.Max(100-p, 1e-6)))+2))) + "%"
}

// latencyChart draws p50, p99 and max over time, with the intervals that
// had errors marked in red along the top.
func latencyChart(l *loaded, idx int) string {
	pts := l.intervals
	if len(pts) == 0 {
		return ""
	}
	c := newChart(fmt.Sprintf("chart-latency-%d", idx), "latency", chartWidth, smallHeight)
	xs := make([]float64, len(pts))
	p50, p99, mx := make([]float64, len(pts)), make([]float64, len(pts)), make([]float64, len(pts))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, p := range pts {
		xs[i] = p.offset + p.length/2
		p50[i], p99[i], mx[i] = positive(p.p50), positive(p.p99), positive(p.max)
		for _, v := range []float64{p50[i], p99[i], mx[i]} {
			if v > 0 {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		return ""
	}
	last := pts[len(pts)-1]
	setTimeAxis(&c.x, pts[0].offset, last.offset+last.length)
	c.y.log = true
	c.y.lo, c.y.hi, c.y.ticks = logTicks(lo, hi*1.05)
	for _, t := range c.y.ticks {
		c.y.tickLabels = append(c.y.tickLabels, formatMs(t))
	}
	c.axes("time since start", "latency")
	c.errorBand(pts)
	c.polyline(xs, mx, "#9AA5B1", 1.2, "", "max")
	c.polyline(xs, p99, color(1), 1.6, "", "p99")
	c.polyline(xs, p50, color(0), 1.6, "", "p50")
	legend := []legendEntry{{label: "p50", color: color(0)}, {label: "p99", color: color(1)}, {label: "max", color: "#9AA5B1"}}
	if hasErrors(pts) {
		legend = append(legend, legendEntry{label: "errors", color: errorColor, box: true})
	}
	c.legend(legend)
	for i, p := range pts {
		c.hover(c.x.pos(xs[i]), fmt.Sprintf("%s\np50 %s\np99 %s\nmax %s\nerrors %s", timeRange(p),
			formatMs(p.p50), formatMs(p.p99), formatMs(p.max), formatCount(p.errors)))
	}
	return c.svg("Latency over time: " + l.name)
}

// throughputChart draws the achieved rate over time, the requested rate,
// and the errors per second as red bars.
func throughputChart(l *loaded, idx int) string {
	pts := l.intervals
	if len(pts) == 0 {
		return ""
	}
	c := newChart(fmt.Sprintf("chart-throughput-%d", idx), "throughput", chartWidth, smallHeight)
	xs := make([]float64, len(pts))
	qps := make([]float64, len(pts))
	hi := l.r.GetRequestedQps()
	for i, p := range pts {
		xs[i] = p.offset + p.length/2
		qps[i] = p.qps
		hi = math.Max(hi, p.qps)
	}
	last := pts[len(pts)-1]
	setTimeAxis(&c.x, pts[0].offset, last.offset+last.length)
	c.y.lo, c.y.hi, c.y.ticks = linearTicks(0, math.Max(hi*1.05, 1), 5)
	for _, t := range c.y.ticks {
		c.y.tickLabels = append(c.y.tickLabels, trimFloat(t, 4))
	}
	c.axes("time since start", "requests/s")
	legend := []legendEntry{{label: "actual", color: color(2)}}
	if q := l.r.GetRequestedQps(); q > 0 {
		c.polyline([]float64{c.x.lo, c.x.hi}, []float64{q, q}, "#555", 1, "6 4", "requested")
		legend = append(legend, legendEntry{label: "requested", color: "#555", dash: "6 4"})
	}
	c.errorBand(pts)
	for _, p := range pts {
		if p.errors > 0 && p.length > 0 {
			rate := float64(p.errors) / p.length
			x0, x1 := c.x.pos(p.offset), c.x.pos(p.offset+p.length)
			y := c.y.pos(rate)
			c.printf(`<rect class="errbar" x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s errors/s</title></rect>`,
				f(x0), f(y), f(math.Max(x1-x0, 1)), f(math.Max(c.y.pos(0)-y, 1)), errorColor, trimFloat(rate, 3))
		}
	}
	c.polyline(xs, qps, color(2), 1.6, "", "actual requests/s")
	if hasErrors(pts) {
		legend = append(legend, legendEntry{label: "errors/s", color: errorColor, box: true})
	}
	c.legend(legend)
	for i, p := range pts {
		c.hover(c.x.pos(xs[i]), fmt.Sprintf("%s\n%s req/s\n%s requests\n%s errors", timeRange(p),
			trimFloat(p.qps, 4), formatCount(p.requests), formatCount(p.errors)))
	}
	return c.svg("Throughput over time: " + l.name)
}

// errorBand marks, in red along the top of the plot, every interval that
// had errors; a mark is at least 3 px wide so that one bad second in an
// hour stays visible.
func (c *svgChart) errorBand(pts []point) {
	for _, p := range pts {
		if p.errors > 0 {
			x0, x1 := c.x.pos(p.offset), c.x.pos(p.offset+p.length)
			w := math.Max(x1-x0, 3)
			c.printf(`<rect class="errmark" x="%s" y="%s" width="%s" height="6" fill="%s"><title>%s errors at %s</title></rect>`,
				f(math.Min(x0, c.width-c.right-w)), f(c.top), f(w), errorColor, formatCount(p.errors), timeRange(p))
		}
	}
}

func hasErrors(pts []point) bool {
	for _, p := range pts {
		if p.errors > 0 {
			return true
		}
	}
	return false
}

func timeRange(p point) string {
	return formatSeconds(p.offset) + "–" + formatSeconds(p.offset+p.length)
}

// setTimeAxis sets a linear time axis in seconds with round ticks.
func setTimeAxis(a *axis, lo, hi float64) {
	span := hi - lo
	if !(span > 0) {
		hi = lo + 1
	}
	// Round steps in seconds: 1 2 5 10 15 30 s, 1 2 5 10 15 30 min, 1 2 h...
	steps := []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400}
	step := steps[len(steps)-1]
	for _, s := range steps {
		if (hi-lo)/s <= 8 {
			step = s
			break
		}
	}
	a.lo, a.hi = lo, hi
	a.ticks, a.tickLabels = nil, nil
	for t, i := math.Ceil(lo/step)*step, 0; t <= hi+1e-9 && i < 100; t, i = t+step, i+1 {
		a.ticks = append(a.ticks, t)
		a.tickLabels = append(a.tickLabels, formatSeconds(t))
	}
}

// histogramChart draws the latency distribution of every result on common
// log-spaced bins, as the share of requests in each bin.
func histogramChart(ls []*loaded) string {
	var with []*loaded
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, l := range ls {
		if l.h == nil || l.h.Count() == 0 {
			continue
		}
		with = append(with, l)
		lo = math.Min(lo, math.Max(durUs(l.h.Min()), 1))
		hi = math.Max(hi, durUs(l.h.Max())+1)
	}
	if len(with) == 0 {
		return ""
	}
	// Bins in µs, evenly spaced in log10.
	llo, lhi := math.Floor(math.Log10(lo)*histogramBinsPerDecade)/histogramBinsPerDecade,
		math.Ceil(math.Log10(hi)*histogramBinsPerDecade)/histogramBinsPerDecade
	nbins := max(1, int(math.Round((lhi-llo)*histogramBinsPerDecade)))
	edges := make([]float64, nbins+1)
	for i := range edges {
		edges[i] = math.Pow(10, llo+float64(i)/histogramBinsPerDecade)
	}
	shares := make([][]float64, len(with))
	top := 0.0
	for i, l := range with {
		counts := make([]float64, nbins)
		for _, b := range bars(l.h) {
			mid := (float64(b.From) + float64(b.To) + 1) / 2
			k := int(math.Floor((math.Log10(mid) - llo) * histogramBinsPerDecade))
			k = min(max(k, 0), nbins-1)
			counts[k] += float64(b.Count)
		}
		total := float64(l.h.Count())
		for k := range counts {
			counts[k] = 100 * counts[k] / total
			top = math.Max(top, counts[k])
		}
		shares[i] = counts
	}
	c := newChart("chart-histogram", "histogram", chartWidth, smallHeight+40)
	c.x.log = true
	c.x.lo, c.x.hi = usToMs(edges[0]), usToMs(edges[nbins])
	_, _, ticks := logTicks(c.x.lo, c.x.hi)
	for _, t := range ticks {
		if t >= c.x.lo*(1-1e-9) && t <= c.x.hi*(1+1e-9) {
			c.x.ticks = append(c.x.ticks, t)
			c.x.tickLabels = append(c.x.tickLabels, formatMs(t))
		}
	}
	c.y.lo, c.y.hi, c.y.ticks = linearTicks(0, math.Max(top*1.08, 0.1), 5)
	for _, t := range c.y.ticks {
		c.y.tickLabels = append(c.y.tickLabels, trimFloat(t, 3)+"%")
	}
	c.axes("latency", "share of requests")
	var legend []legendEntry
	for i, l := range with {
		// A step outline, closed to the axis and lightly filled so that
		// overlaid results stay readable.
		var d strings.Builder
		base := f(c.y.pos(0))
		d.WriteString("M" + f(c.x.pos(usToMs(edges[0]))) + " " + base)
		for k := 0; k < nbins; k++ {
			y := f(c.y.pos(shares[i][k]))
			d.WriteString("L" + f(c.x.pos(usToMs(edges[k]))) + " " + y + "L" + f(c.x.pos(usToMs(edges[k+1]))) + " " + y)
		}
		d.WriteString("L" + f(c.x.pos(usToMs(edges[nbins]))) + " " + base + "Z")
		c.printf(`<path class="series" d="%s" fill="%s" fill-opacity="0.18" stroke="%s" stroke-width="1.5"><title>%s</title></path>`,
			d.String(), l.color, l.color, esc(l.name))
		legend = append(legend, legendEntry{label: l.name, color: l.color})
	}
	c.legend(legend)
	for k := 0; k < nbins; k++ {
		var parts []string
		for i, l := range with {
			parts = append(parts, l.name+": "+trimFloat(shares[i][k], 3)+"%")
		}
		mid := math.Sqrt(edges[k] * edges[k+1])
		c.hover(c.x.pos(usToMs(mid)), formatMs(usToMs(edges[k]))+"–"+formatMs(usToMs(edges[k+1]))+"\n"+strings.Join(parts, "\n"))
	}
	return c.svg("Latency histogram")
}
