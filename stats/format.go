package stats

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Formats are the output formats of WriteComparisons.
func Formats() []string { return []string{"text", "json", "csv", "markdown"} }

// WriteComparisons writes the comparisons of one or more variants against a
// common baseline: "text" (a table with aligned columns, then footnotes and
// one verdict line per variant), "markdown" (the same as a GitHub table),
// "csv" (one row per variant and metric, full precision) or "json".
func WriteComparisons(w io.Writer, cs []*Comparison, format string) error {
	if len(cs) == 0 {
		return fmt.Errorf("no comparison to write")
	}
	switch format {
	case "", "text":
		return writeTable(w, cs, false)
	case "markdown", "md":
		return writeTable(w, cs, true)
	case "csv":
		return writeCSV(w, cs)
	case "json":
		return writeJSON(w, cs)
	}
	return fmt.Errorf("format %q: want one of %s", format, strings.Join(Formats(), ", "))
}

// FormatValue prints a metric value with four significant digits (at most
// three decimals).
func FormatValue(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	if math.IsInf(v, 0) || v == 0 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	// The decimal exponent after rounding to four significant digits, so
	// that 999.96 prints as 1000, not 1000.0.
	e := strconv.FormatFloat(v, 'e', 3, 64)
	exp, err := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if err != nil {
		return e
	}
	dec := max(0, min(3, 3-exp))
	return strconv.FormatFloat(v, 'f', dec, 64)
}

// FormatChange prints a change in percent with its sign: +20.1%, -0.35%.
func FormatChange(pct float64) string {
	switch {
	case math.IsNaN(pct):
		return "n/a"
	case math.IsInf(pct, 1):
		return "+Inf%"
	case math.IsInf(pct, -1):
		return "-Inf%"
	}
	a := math.Abs(pct)
	dec := 2
	switch {
	case a >= 100:
		dec = 0
	case a >= 10:
		dec = 1
	}
	s := strconv.FormatFloat(pct, 'f', dec, 64)
	if s == "-0" || strings.Trim(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-")
	}
	if !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s + "%"
}

// formatChangeIn prints a change in percent ("%") or in percentage points
// ("pp", four significant digits): +0.007pp.
func formatChangeIn(v float64, unit string) string {
	if unit == "%" {
		return FormatChange(v)
	}
	s := FormatValue(v)
	if v >= 0 && !math.IsNaN(v) {
		s = "+" + s
	}
	return s + unit
}

// FormatInterval prints a change interval: [+18.1%, +22.3%].
func FormatInterval(lo, hi float64) string {
	return "[" + FormatChange(lo) + ", " + FormatChange(hi) + "]"
}

// FormatP prints a p value with three significant digits.
func FormatP(p float64) string {
	if p < 0.001 {
		return strconv.FormatFloat(p, 'e', 1, 64)
	}
	return strconv.FormatFloat(p, 'f', 3, 64)
}

// formatSummary prints "median ± x%" where x is the larger distance from the
// median to an end of its interval, relative to the median (benchstat's
// convention); "± ∞" marks a missing interval.
func formatSummary(s Summary) string {
	if s.N == 0 {
		return "n/a"
	}
	v := FormatValue(s.Median)
	if !s.HasInterval {
		return v + " ± ∞"
	}
	d := math.Max(s.High-s.Median, s.Median-s.Low)
	if s.Median == 0 {
		return v + " ± " + FormatValue(d)
	}
	return fmt.Sprintf("%s ± %.0f%%", v, 100*d/math.Abs(s.Median))
}

func writeTable(w io.Writer, cs []*Comparison, markdown bool) error {
	base := cs[0]
	header := []string{"metric", orDefault(base.BaseName, "base")}
	for _, c := range cs {
		header = append(header, orDefault(c.OtherName, "other"), "vs base", pct(c.Confidence)+" interval", "p")
	}
	rows := [][]string{header}
	noInterval, pointOnly, allTied, adjusted := false, false, false, false
	for _, m := range unionMetrics(cs) {
		row := []string{string(m) + " (" + m.Unit() + ")"}
		first := true
		for _, c := range cs {
			mc, ok := c.metric(m)
			if first {
				if ok {
					row = append(row, formatSummary(mc.Base))
					noInterval = noInterval || (mc.Base.N > 0 && !mc.Base.HasInterval)
				} else {
					row = append(row, "n/a")
				}
				first = false
			}
			if !ok {
				row = append(row, "n/a", "", "", "")
				continue
			}
			noInterval = noInterval || (mc.Other.N > 0 && !mc.Other.HasInterval)
			change, interval, p := c.ChangeCell(mc), "", ""
			if c.Status(mc) == StatusUntestable {
				pointOnly = true
			}
			if mc.HasTest {
				interval = mc.IntervalText()
				p = fmt.Sprintf("%s n=%d+%d", mc.PText(), mc.Base.N, mc.Other.N)
				allTied = allTied || mc.Test.AllTied
				adjusted = adjusted || strings.Contains(p, "→")
			}
			row = append(row, formatSummary(mc.Other), change, interval, p)
		}
		rows = append(rows, row)
	}
	var notes []string
	if noInterval {
		notes = append(notes, fmt.Sprintf("± ∞: need at least %d runs for a %s interval", MinRuns(0.5, base.Confidence), pct(base.Confidence)))
	}
	notes = append(notes, "~: no significant difference ("+base.Method()+")")
	if adjusted {
		notes = append(notes, "p=raw→adjusted: "+base.correctionName()+"-adjusted for the metrics tested; the verdict is on the adjusted p")
	}
	if allTied {
		notes = append(notes, "p=n/a: every run of both sides has the same value; nothing to test")
	}
	if pointOnly {
		notes = append(notes, "(…): the change of the medians, too few runs to test it")
	}
	notes = append(notes, "vs base: median ratio − 1 (errors: difference in percentage points, pp); interval: Hodges–Lehmann, from the Mann–Whitney distribution (of the log values for a ratio), for each metric on its own")
	seen := map[string]bool{}
	for _, c := range cs {
		for _, cv := range c.Caveats() {
			if !seen[cv] {
				seen[cv] = true
				notes = append(notes, "note: "+cv)
			}
		}
		for _, w := range c.Warnings {
			notes = append(notes, "warning: "+c.OtherName+" vs "+c.BaseName+": "+w)
		}
		if pn := c.PowerNote(); pn != "" {
			notes = append(notes, pn)
		}
	}
	var b strings.Builder
	if markdown {
		writeMarkdown(&b, rows)
		b.WriteString("\n")
		for _, n := range notes {
			b.WriteString("- " + n + "\n")
		}
		b.WriteString("\n")
		for _, c := range cs {
			b.WriteString("**" + mdEscape(c.Verdict()) + "**\n\n")
		}
	} else {
		writeAligned(&b, rows)
		b.WriteString("\n")
		for _, n := range notes {
			b.WriteString(n + "\n")
		}
		b.WriteString("\n")
		for _, c := range cs {
			b.WriteString(c.Verdict() + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// unionMetrics lists the metrics any comparison has, in Metrics() order.
func unionMetrics(cs []*Comparison) []Metric {
	var out []Metric
	for _, m := range Metrics() {
		for _, c := range cs {
			if _, ok := c.metric(m); ok {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// writeAligned pads every column to its widest cell (counted in runes),
// left-aligning the first column and right-aligning the others except
// interval and p columns, which read better left-aligned.
func writeAligned(b *strings.Builder, rows [][]string) {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	for _, r := range rows {
		var line strings.Builder
		for i, cell := range r {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell))
			if i > 0 {
				line.WriteString("  ")
			}
			if i == 0 || isLeftColumn(rows[0][i]) {
				line.WriteString(cell + pad)
			} else {
				line.WriteString(pad + cell)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}

func isLeftColumn(header string) bool {
	return header == "p" || strings.HasSuffix(header, " interval")
}

func writeMarkdown(b *strings.Builder, rows [][]string) {
	for i, r := range rows {
		cells := make([]string, len(r))
		for j, c := range r {
			cells[j] = mdEscape(c)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
		if i == 0 {
			seps := make([]string, len(r))
			for j := range seps {
				switch {
				case j == 0 || isLeftColumn(r[j]):
					seps[j] = "---"
				default:
					seps[j] = "---:"
				}
			}
			b.WriteString("| " + strings.Join(seps, " | ") + " |\n")
		}
	}
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "~", `\~`).Replace(s)
}

func writeCSV(w io.Writer, cs []*Comparison) error {
	cw := csv.NewWriter(w)
	header := []string{"base", "variant", "metric", "unit",
		"base_runs", "base_median", "base_low", "base_high",
		"variant_runs", "variant_median", "variant_low", "variant_high",
		"change", "change_low", "change_high", "change_unit", "hl_shift", "p", "p_adjusted", "significant",
		"status", "runs_for_80pct_power", "warnings"}
	if err := cw.Write(header); err != nil {
		return err
	}
	num := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	interval := func(s Summary) (string, string) {
		if !s.HasInterval {
			return "", ""
		}
		return num(s.Low), num(s.High)
	}
	for _, c := range cs {
		for _, mc := range c.Metrics {
			bl, bh := interval(mc.Base)
			ol, oh := interval(mc.Other)
			cl, ch, p, pa, sig, power := "", "", "", "", "", ""
			if mc.HasChangeInterval {
				cl, ch = num(mc.ChangeLow), num(mc.ChangeHigh)
			}
			if mc.HasTest && !mc.Test.AllTied {
				p, pa = num(mc.Test.P), num(mc.AdjustedP)
			}
			if mc.HasTest {
				sig = strconv.FormatBool(mc.Significant)
			}
			if mc.RunsForPower > 0 {
				power = strconv.Itoa(mc.RunsForPower)
			}
			rec := []string{c.BaseName, c.OtherName, string(mc.Metric), mc.Metric.Unit(),
				strconv.Itoa(mc.Base.N), num(mc.Base.Median), bl, bh,
				strconv.Itoa(mc.Other.N), num(mc.Other.Median), ol, oh,
				num(mc.Change), cl, ch, mc.Metric.ChangeUnit(), num(mc.Shift), p, pa, sig,
				string(c.Status(mc)), power, strings.Join(c.Warnings, "; ")}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// The JSON document of a comparison. Numbers that can be absent or
// non-finite are pointers and left out when they have no finite value.
type jsonReport struct {
	Confidence float64       `json:"confidence"`
	Alpha      float64       `json:"alpha"`
	Correction string        `json:"correction"`
	Resamples  int           `json:"bootstrap_resamples"`
	Seed       uint64        `json:"bootstrap_seed"`
	Base       string        `json:"base"`
	BaseRuns   int           `json:"base_runs"`
	Variants   []jsonVariant `json:"variants"`
}

type jsonVariant struct {
	Name    string   `json:"name"`
	Runs    int      `json:"runs"`
	Verdict string   `json:"verdict"`
	Caveats []string `json:"caveats,omitempty"`
	// Warnings say how the variant's setup differs from the baseline's.
	Warnings []string `json:"warnings,omitempty"`
	// Method is how significance was decided.
	Method string `json:"method"`
	// Excluded counts the partial runs left out of each side.
	BaseExcluded  int          `json:"base_partial_runs_excluded,omitempty"`
	Excluded      int          `json:"partial_runs_excluded,omitempty"`
	Metrics       []jsonMetric `json:"metrics"`
	PowerNote     string       `json:"power_note,omitempty"`
	DetectPlanned *float64     `json:"detect,omitempty"`
}

type jsonMetric struct {
	Metric      string      `json:"metric"`
	Unit        string      `json:"unit"`
	Base        jsonSummary `json:"base"`
	Variant     jsonSummary `json:"variant"`
	Change      *float64    `json:"change,omitempty"`
	ChangeUnit  string      `json:"change_unit"`
	ChangeInf   string      `json:"change_infinite,omitempty"`
	ChangeCI    *[2]float64 `json:"change_interval,omitempty"`
	ChangeConf  *float64    `json:"change_interval_confidence,omitempty"`
	ChangeBoot  bool        `json:"change_interval_bootstrap,omitempty"`
	Shift       *float64    `json:"hodges_lehmann_shift,omitempty"`
	Test        *jsonMWTest `json:"mann_whitney,omitempty"`
	Significant bool        `json:"significant"`
	// Status is the verdict on the metric: worse, better, unchanged,
	// untestable (too few runs) or none (not in both results).
	Status string `json:"status"`
	// RunsForPower: runs a side to detect PowerChange with 80% power.
	RunsForPower int      `json:"runs_for_80pct_power,omitempty"`
	PowerChange  *float64 `json:"power_change,omitempty"`
	// Missing says why the variant lacks a metric the baseline has (a
	// failure): "no successful requests" or "missing in the variant".
	Missing string `json:"missing,omitempty"`
}

type jsonSummary struct {
	Runs     int         `json:"runs"`
	Median   *float64    `json:"median,omitempty"`
	Interval *[2]float64 `json:"interval,omitempty"`
	Achieved *float64    `json:"interval_confidence,omitempty"`
}

type jsonMWTest struct {
	U float64 `json:"u"`
	// P and AdjustedP are left out when every run has the same value.
	P         *float64 `json:"p,omitempty"`
	AdjustedP *float64 `json:"p_adjusted,omitempty"`
	Exact     bool     `json:"exact"`
	Ties      bool     `json:"ties"`
	AllTied   bool     `json:"all_tied,omitempty"`
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func toJSONSummary(s Summary) jsonSummary {
	js := jsonSummary{Runs: s.N, Median: finite(s.Median)}
	if s.HasInterval && finite(s.Low) != nil && finite(s.High) != nil {
		js.Interval = &[2]float64{s.Low, s.High}
		js.Achieved = finite(s.CI.Confidence)
	}
	return js
}

func writeJSON(w io.Writer, cs []*Comparison) error {
	base := cs[0]
	rep := jsonReport{Confidence: base.Confidence, Alpha: base.Alpha, Correction: base.Correction, Resamples: base.Resamples, Seed: base.Seed,
		Base: base.BaseName, BaseRuns: base.BaseRuns}
	for _, c := range cs {
		v := jsonVariant{Name: c.OtherName, Runs: c.OtherRuns, Verdict: c.Verdict(), Caveats: c.Caveats(), Metrics: []jsonMetric{},
			Warnings: c.Warnings, Method: c.Method(), BaseExcluded: c.BaseExcluded, Excluded: c.OtherExcluded, PowerNote: c.PowerNote()}
		if c.Detect > 0 {
			v.DetectPlanned = finite(c.Detect)
		}
		for _, mc := range c.Metrics {
			jm := jsonMetric{Metric: string(mc.Metric), Unit: mc.Metric.Unit(),
				Base: toJSONSummary(mc.Base), Variant: toJSONSummary(mc.Other),
				Change: finite(mc.Change), ChangeUnit: mc.Metric.ChangeUnit(), Shift: finite(mc.Shift), Significant: mc.Significant,
				Status: string(c.Status(mc)), RunsForPower: mc.RunsForPower}
			if mc.RunsForPower > 0 {
				jm.PowerChange = finite(mc.PowerChange)
			}
			if mc.Missing {
				jm.Missing = mc.MissingText()
			}
			if math.IsInf(mc.Change, 0) {
				jm.ChangeInf = mc.ChangeText()
			}
			if mc.HasChangeInterval && finite(mc.ChangeLow) != nil && finite(mc.ChangeHigh) != nil {
				jm.ChangeCI = &[2]float64{mc.ChangeLow, mc.ChangeHigh}
				jm.ChangeConf, jm.ChangeBoot = finite(mc.ChangeConfidence), mc.Bootstrap
			}
			if mc.HasTest {
				jm.Test = &jsonMWTest{U: mc.Test.U, Exact: mc.Test.Exact, Ties: mc.Test.Ties, AllTied: mc.Test.AllTied}
				if !mc.Test.AllTied {
					jm.Test.P, jm.Test.AdjustedP = finite(mc.Test.P), finite(mc.AdjustedP)
				}
			}
			v.Metrics = append(v.Metrics, jm)
		}
		rep.Variants = append(rep.Variants, v)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
