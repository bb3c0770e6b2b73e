package report

import (
	"math"
	"strconv"
)

// Line is one series of a LineChart: Y against X, NaN for a missing point.
type Line struct {
	Label string
	// Color index into the report's palette (the same colour a result
	// gets at that position in a report); Dash is an SVG dash pattern.
	Color int
	Dash  string
	X, Y  []float64
}

// LineChart draws lines (with their points marked) as a self-contained SVG,
// in the report's style: for curves that are not time series, such as
// latency against load. With logY the y axis is log10 (values ≤ 0 are
// left out).
func LineChart(id, title, xTitle, yTitle string, lines []Line, logY bool) string {
	c := newChart(id, "lines", 720, 300)
	// The legend wraps onto as many rows as it needs above the plot.
	rows := legendRows(lines, c.left, c.width-c.right)
	c.top += 14 * float64(len(rows)-1)
	c.height += 14 * float64(len(rows)-1)
	c.y.plo, c.y.phi = c.height-c.bottom, c.top
	xlo, xhi, ylo, yhi := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, l := range lines {
		for i := range l.X {
			if math.IsNaN(l.Y[i]) || (logY && l.Y[i] <= 0) {
				continue
			}
			xlo, xhi = math.Min(xlo, l.X[i]), math.Max(xhi, l.X[i])
			ylo, yhi = math.Min(ylo, l.Y[i]), math.Max(yhi, l.Y[i])
		}
	}
	if math.IsInf(xlo, 1) {
		return ""
	}
	c.x.lo, c.x.hi, c.x.ticks = linearTicks(math.Min(0, xlo), xhi, 6)
	for _, t := range c.x.ticks {
		c.x.tickLabels = append(c.x.tickLabels, strconv.FormatFloat(t, 'f', -1, 64))
	}
	if logY {
		c.y.log = true
		c.y.lo, c.y.hi, c.y.ticks = logTicks(ylo, yhi)
	} else {
		c.y.lo, c.y.hi, c.y.ticks = linearTicks(math.Min(0, ylo), yhi, 5)
	}
	for _, t := range c.y.ticks {
		c.y.tickLabels = append(c.y.tickLabels, trimFloat(t, 3))
	}
	c.axes(xTitle, yTitle)
	for _, l := range lines {
		c.polyline(l.X, l.Y, color(l.Color), 2, l.Dash, l.Label)
		c.dots(l.X, l.Y, color(l.Color), l.Label)
	}
	c.printf(`<g class="legend">`)
	for r, row := range rows {
		y := 21 + 14*float64(r)
		for _, e := range row {
			l := lines[e.i]
			dash := ""
			if l.Dash != "" {
				dash = ` stroke-dasharray="` + l.Dash + `"`
			}
			c.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2"%s/>`, f(e.x), f(y-3), f(e.x+16), f(y-3), color(l.Color), dash)
			c.printf(`<text x="%s" y="%s">%s</text>`, f(e.x+21), f(y+1), esc(l.Label))
		}
	}
	c.printf(`</g>`)
	return c.svg(title)
}

type placed struct {
	i int
	x float64
}

// legendRows places the legend entries left to right, starting a new row
// where the next would pass right (about 6.2 px a character of the 11 px
// font, as the report's one-row legend counts).
func legendRows(lines []Line, left, right float64) [][]placed {
	rows := [][]placed{nil}
	x := left
	for i, l := range lines {
		w := 21 + float64(len([]rune(l.Label)))*6.2 + 16
		if x+w > right && len(rows[len(rows)-1]) > 0 {
			rows = append(rows, nil)
			x = left
		}
		rows[len(rows)-1] = append(rows[len(rows)-1], placed{i, x})
		x += w
	}
	return rows
}
