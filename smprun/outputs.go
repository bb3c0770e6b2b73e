package smprun

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/smp-project/smp/stats"
)

// CheckVariantNames checks the names of a series' variants: with more than
// one, each needs a name, unique, made of letters, digits, '.', '_' and '-'
// (it becomes part of file names: VariantPath).
func CheckVariantNames(names []string) error {
	if len(names) < 2 {
		return nil
	}
	seen := map[string]bool{}
	for _, n := range names {
		switch {
		case n == "":
			return invalid("every variant needs a name (name=URL)")
		case strings.Trim(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" || strings.HasPrefix(n, "."):
			return invalid("variant name %q: use letters, digits, '.', '_' and '-' (it names output files)", n)
		case seen[n]:
			return invalid("variant name %q is given twice", n)
		}
		seen[n] = true
	}
	return nil
}

// VariantPath is where a variant's output goes when a series has several:
// path with "-name" before its extension (out.yaml → out-base.yaml), or
// path itself for an unnamed variant.
func VariantPath(path, name string) string {
	if name == "" {
		return path
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-" + name + ext
}

// SLOCheck is one objective checked on one variant's result.
type SLOCheck struct {
	Variant string
	SLO     stats.SLO
	// Pass is the verdict; Measured the value checked, in the metric's
	// unit; Err says why there was none (the check then fails).
	Pass     bool
	Measured float64
	Err      error
}

// Message says what was measured: "p99 = 1.234 ms".
func (c SLOCheck) Message() string {
	if c.Err != nil {
		return c.Err.Error()
	}
	return fmt.Sprintf("%s = %s %s", c.SLO.Metric, stats.FormatValue(c.Measured), c.SLO.Metric.Unit())
}

// String is the line printed for the check: "SLO p99<25ms  ok  p99 = 1.234 ms".
func (c SLOCheck) String() string {
	verdict := "ok"
	if !c.Pass {
		verdict = "FAILED"
	}
	prefix := ""
	if c.Variant != "" {
		prefix = c.Variant + ": "
	}
	return fmt.Sprintf("%sSLO %s %s: %s", prefix, c.SLO.Text, verdict, c.Message())
}

// CheckSLOs checks every objective on every variant's result. With several
// runs the result's own figures are those of all runs merged (see
// VariantResult.Result): p99<25ms holds the p99 of every request to 25 ms.
func CheckSLOs(vrs []*VariantResult, slos []stats.SLO) []SLOCheck {
	var out []SLOCheck
	for _, vr := range vrs {
		for _, s := range slos {
			ok, v, err := s.Check(vr.Result)
			out = append(out, SLOCheck{Variant: vr.Name, SLO: s, Pass: ok && err == nil, Measured: v, Err: err})
		}
	}
	return out
}
