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
	var legend []legendEntry
	for _, l := range lines {
		c.polyline(l.X, l.Y, color(l.Color), 2, l.Dash, l.Label)
		c.dots(l.X, l.Y, color(l.Color), l.Label)
		legend = append(legend, legendEntry{label: l.Label, color: color(l.Color), dash: l.Dash})
	}
	c.legend(legend)
	return c.svg(title)
}
