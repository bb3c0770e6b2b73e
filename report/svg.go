package report

import (
	"encoding/json"
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// The charts are drawn here as SVG so that the page needs no chart library
// and nothing from the network: a few hundred path commands per series.

// color is the i-th colour of the Okabe–Ito colour-blind-safe palette
// (without its yellow, which is unreadable on white), then a few darker
// extras, cycling.
func color(i int) string {
	palette := [...]string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8C564B", "#7F7F7F", "#BCBD22"}
	return palette[i%len(palette)]
}

const errorColor = "#D62728"

// axis maps data values to pixels on a linear or log10 scale.
type axis struct {
	lo, hi     float64 // data range (for log: positive)
	plo, phi   float64 // pixel range
	log        bool
	ticks      []float64
	tickLabels []string
}

func (a *axis) pos(v float64) float64 {
	lo, hi := a.lo, a.hi
	if a.log {
		v = math.Log10(math.Max(v, a.lo))
		lo, hi = math.Log10(a.lo), math.Log10(a.hi)
	}
	if hi == lo {
		return (a.plo + a.phi) / 2
	}
	return a.plo + (v-lo)/(hi-lo)*(a.phi-a.plo)
}

// linearTicks picks about n round ticks (1, 2, 2.5, 5 × 10^k steps) over
// [lo, hi] and widens the range to whole steps.
func linearTicks(lo, hi float64, n int) (float64, float64, []float64) {
	if !(hi > lo) {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(max(n, 1))
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	lo = math.Floor(lo/step) * step
	hi = math.Ceil(hi/step) * step
	var ticks []float64
	for v, i := lo, 0; v <= hi+step/2 && i < 1000; v, i = lo+float64(i+1)*step, i+1 {
		ticks = append(ticks, v)
	}
	return lo, hi, ticks
}

// logTicks spans [lo, hi] (positive) with ticks at 1, 2, 5 × 10^k, or at
// powers of ten only when the range covers many decades.
func logTicks(lo, hi float64) (float64, float64, []float64) {
	if !(lo > 0) {
		lo = 1e-3
	}
	if !(hi > lo) {
		hi = lo * 10
	}
	// Snap the range outwards to the 1-2-5 grid.
	snapDown := func(v float64) float64 {
		m := math.Pow(10, math.Floor(math.Log10(v)))
		for _, f := range []float64{5, 2, 1} {
			if f*m <= v*(1+1e-9) {
				return f * m
			}
		}
		return m
	}
	snapUp := func(v float64) float64 {
		m := math.Pow(10, math.Floor(math.Log10(v)))
		for _, f := range []float64{1, 2, 5, 10} {
			if f*m >= v*(1-1e-9) {
				return f * m
			}
		}
		return 10 * m
	}
	lo, hi = snapDown(lo), snapUp(hi)
	decades := math.Log10(hi / lo)
	mults := []float64{1, 2, 5}
	if decades > 4 {
		mults = []float64{1}
	}
	var ticks []float64
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)) && len(ticks) < 200; e++ {
		for _, m := range mults {
			v := m * math.Pow(10, e)
			if v >= lo*(1-1e-9) && v <= hi*(1+1e-9) {
				ticks = append(ticks, v)
			}
		}
	}
	return lo, hi, ticks
}

// formatMs prints a latency in milliseconds with a unit that keeps it
// short: 850µs, 1.25ms, 3.2s.
func formatMs(ms float64) string {
	switch {
	case math.IsNaN(ms):
		return "n/a"
	case ms == 0:
		return "0"
	case ms < 1:
		return trimFloat(ms*1000, 3) + "µs"
	case ms < 1000:
		return trimFloat(ms, 3) + "ms"
	}
	return trimFloat(ms/1000, 3) + "s"
}

// trimFloat prints v with sig significant digits and no trailing zeros.
func trimFloat(v float64, sig int) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	dec := sig - 1 - int(math.Floor(math.Log10(math.Abs(v))))
	dec = max(dec, 0)
	s := strconv.FormatFloat(v, 'f', dec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// formatCount prints a count with thousands separators.
func formatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// formatSeconds prints an offset: 45s, 12m30s, 1h00m.
func formatSeconds(s float64) string {
	switch {
	case s < 60:
		return trimFloat(s, 3) + "s"
	case s < 3600:
		m := int(s) / 60
		return fmt.Sprintf("%dm%02ds", m, int(s)-60*m)
	}
	h := int(s) / 3600
	return fmt.Sprintf("%dh%02dm", h, (int(s)-3600*h)/60)
}

// svgChart accumulates one chart. Geometry: width × height pixels, with
// the plot area inside the margins.
type svgChart struct {
	id, kind      string
	width, height float64
	left, right   float64
	top, bottom   float64
	x, y          axis
	b             strings.Builder
	// hover is what the page's script shows at each x pixel.
	hoverX    []float64
	hoverText []string
}

func newChart(id, kind string, width, height float64) *svgChart {
	c := &svgChart{id: id, kind: kind, width: width, height: height, left: 64, right: 16, top: 30, bottom: 42}
	c.x.plo, c.x.phi = c.left, width-c.right
	c.y.plo, c.y.phi = height-c.bottom, c.top
	return c
}

// f formats a pixel coordinate compactly: the charts are a few hundred
// pixels wide, so one decimal is finer than a pixel.
func f(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func (c *svgChart) printf(format string, args ...any) { fmt.Fprintf(&c.b, format, args...) }

// axes draws the grid, ticks and axis titles.
func (c *svgChart) axes(xTitle, yTitle string) {
	c.printf(`<g class="grid">`)
	for i, t := range c.x.ticks {
		px := c.x.pos(t)
		c.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s"/>`, f(px), f(c.top), f(px), f(c.height-c.bottom))
		c.printf(`<text class="xt" x="%s" y="%s">%s</text>`, f(px), f(c.height-c.bottom+14), esc(c.x.tickLabels[i]))
	}
	for i, t := range c.y.ticks {
		py := c.y.pos(t)
		c.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s"/>`, f(c.left), f(py), f(c.width-c.right), f(py))
		c.printf(`<text class="yt" x="%s" y="%s">%s</text>`, f(c.left-5), f(py+3.5), esc(c.y.tickLabels[i]))
	}
	c.printf(`</g>`)
	c.printf(`<rect class="frame" x="%s" y="%s" width="%s" height="%s"/>`, f(c.left), f(c.top),
		f(c.width-c.left-c.right), f(c.height-c.top-c.bottom))
	c.printf(`<text class="xtitle" x="%s" y="%s">%s</text>`, f((c.left+c.width-c.right)/2), f(c.height-6), esc(xTitle))
	c.printf(`<text class="ytitle" transform="translate(13 %s) rotate(-90)">%s</text>`, f((c.top+c.height-c.bottom)/2), esc(yTitle))
}

// polyline draws a series as one path; points with NaN values break the
// line.
func (c *svgChart) polyline(xs, ys []float64, stroke string, width float64, dash string, label string) {
	var d strings.Builder
	pen := false
	for i := range xs {
		if math.IsNaN(ys[i]) || math.IsNaN(xs[i]) {
			pen = false
			continue
		}
		cmd := "L"
		if !pen {
			cmd = "M"
		}
		d.WriteString(cmd + f(c.x.pos(xs[i])) + " " + f(c.y.pos(ys[i])))
		pen = true
	}
	if d.Len() == 0 {
		return
	}
	extra := ""
	if dash != "" {
		extra = ` stroke-dasharray="` + dash + `"`
	}
	c.printf(`<path class="series" d="%s" stroke="%s" stroke-width="%s" fill="none"%s><title>%s</title></path>`,
		d.String(), stroke, f(width), extra, esc(label))
}

// dots marks single points, for series with only a few values.
func (c *svgChart) dots(xs, ys []float64, fill, label string) {
	for i := range xs {
		if math.IsNaN(ys[i]) {
			continue
		}
		c.printf(`<circle cx="%s" cy="%s" r="3" fill="%s"><title>%s</title></circle>`, f(c.x.pos(xs[i])), f(c.y.pos(ys[i])), fill, esc(label))
	}
}

// legend draws the entries in one row above the plot area, so that it
// never hides data.
func (c *svgChart) legend(entries []legendEntry) {
	if len(entries) == 0 {
		return
	}
	x, y := c.left, c.top-9
	c.printf(`<g class="legend">`)
	for _, e := range entries {
		dash := ""
		if e.dash != "" {
			dash = ` stroke-dasharray="` + e.dash + `"`
		}
		if e.box {
			c.printf(`<rect x="%s" y="%s" width="16" height="8" fill="%s"/>`, f(x), f(y-7), e.color)
		} else {
			c.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2"%s/>`, f(x), f(y-3), f(x+16), f(y-3), e.color, dash)
		}
		c.printf(`<text x="%s" y="%s">%s</text>`, f(x+21), f(y+1), esc(e.label))
		// About 6.2 px per character of the 11 px font.
		x += 21 + float64(len([]rune(e.label)))*6.2 + 16
	}
	c.printf(`</g>`)
}

type legendEntry struct {
	label, color, dash string
	box                bool
}

// hover records the read-out for pixel column px.
func (c *svgChart) hover(px float64, text string) {
	c.hoverX = append(c.hoverX, math.Round(px*10)/10)
	c.hoverText = append(c.hoverText, text)
}

// svg returns the finished chart. The hover read-outs travel in a data
// attribute for the page's script.
func (c *svgChart) svg(title string) string {
	var out strings.Builder
	hover := ""
	if len(c.hoverX) > 0 {
		data, err := json.Marshal(struct {
			X []float64 `json:"x"`
			T []string  `json:"t"`
		}{c.hoverX, c.hoverText})
		if err == nil {
			hover = ` data-hover="` + esc(string(data)) + `"`
		}
	}
	fmt.Fprintf(&out, `<svg class="chart" id="%s" data-chart="%s" viewBox="0 0 %s %s" width="%s" height="%s" role="img" aria-label="%s" data-plot="%s %s %s %s"%s>`,
		esc(c.id), esc(c.kind), f(c.width), f(c.height), f(c.width), f(c.height), esc(title),
		f(c.left), f(c.top), f(c.width-c.right), f(c.height-c.bottom), hover)
	out.WriteString(c.b.String())
	out.WriteString(`</svg>`)
	return out.String()
}

func esc(s string) string { return html.EscapeString(s) }
