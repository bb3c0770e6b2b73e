package meshmark

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/smp-project/smp/spec"
)

// WriteBreakdown prints a MeshMark with every term and the arithmetic that
// gives each class score and the score, so that a reader can check it by
// hand. title names the result (a file name).
func WriteBreakdown(w io.Writer, title string, mm *spec.MeshMark) error {
	var b strings.Builder
	fmt.Fprintf(&b, "MeshMark %s / 100", num(mm.GetScore(), 2))
	if title != "" {
		b.WriteString("  " + title)
	}
	fmt.Fprintf(&b, "  (%s)\n\n", mm.GetMethod())

	rows := [][]string{{"class", "component", "used", "assigned", "MUE", "weight", "MUE×weight"}}
	for _, c := range mm.GetClasses() {
		for _, t := range c.GetTerms() {
			used, assigned := num(t.GetUsed(), -1), num(t.GetAssigned(), -1)
			if c.GetClass() == ClassLatency {
				used, assigned = used+"ms", assigned+"ms"
			}
			rows = append(rows, []string{c.GetClass(), t.GetComponent(), used, assigned,
				num(t.GetMue(), 4), num(t.GetWeight(), 2), num(t.GetMue()*t.GetWeight(), 4)})
		}
	}
	writeAligned(&b, rows)
	b.WriteString("\n")
	var classScores []string
	for _, c := range mm.GetClasses() {
		var products []string
		for _, t := range c.GetTerms() {
			products = append(products, num(t.GetMue()*t.GetWeight(), 4))
		}
		fmt.Fprintf(&b, "%-8s (%s) / %d = %s\n", c.GetClass(), strings.Join(products, " + "), len(c.GetTerms()), num(c.GetScore(), 4))
		classScores = append(classScores, num(c.GetScore(), 4))
	}
	fmt.Fprintf(&b, "score    100 × (%s) / %d = %s", strings.Join(classScores, " + "), len(classScores), num(mm.GetScore(), 2))
	if raw := unclamped(mm); raw != mm.GetScore() {
		fmt.Fprintf(&b, " (clamped from %s)", num(raw, 2))
	}
	b.WriteString("\n")
	switch {
	case mm.GetSloP99Ms() > 0:
		fmt.Fprintf(&b, "latency  MUE = min(1, SLO p99 %sms / achieved p99 %sms)\n", num(mm.GetSloP99Ms(), -1), num(mm.GetAchievedP99Ms(), -1))
	default:
		b.WriteString("note: no latency objective (--slo-p99): the score rates resource efficiency only\n")
	}
	var missing []string
	for _, rc := range ResourceClasses() {
		found := false
		for _, c := range mm.GetClasses() {
			found = found || c.GetClass() == rc
		}
		if !found {
			missing = append(missing, rc)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(&b, "note: not measured, left out of the mean: %s\n", strings.Join(missing, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func unclamped(mm *spec.MeshMark) float64 {
	if len(mm.GetClasses()) == 0 {
		return mm.GetScore()
	}
	sum := 0.0
	for _, c := range mm.GetClasses() {
		sum += c.GetScore()
	}
	return 100 * sum / float64(len(mm.GetClasses()))
}

// num prints v with dec decimals, or as short as exact when dec < 0.
func num(v float64, dec int) string {
	return strconv.FormatFloat(v, 'f', dec, 64)
}

func writeAligned(b *strings.Builder, rows [][]string) {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		var line strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if i > 0 {
				line.WriteString("  ")
			}
			if i < 2 {
				line.WriteString(c + pad)
			} else {
				line.WriteString(pad + c)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}
