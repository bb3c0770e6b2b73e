package stats

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Corrections for testing several metrics at once. A comparison tests seven
// metrics; at α = 0.05 each, "some metric changed" turns up by chance in up
// to 1 − 0.95⁷ ≈ 30% of comparisons of identical systems. A family-wise
// correction bounds that chance by α for the comparison as a whole.
const (
	// Holm's step-down procedure (Holm 1979): as strict as Bonferroni
	// for the smallest p value, less strict for the others, and valid
	// whatever the dependence between the metrics. The default.
	CorrectionHolm = "holm"
	// Bonferroni: every p value times the number of tests.
	CorrectionBonferroni = "bonferroni"
	// No correction: each metric at α on its own (the family-wise error
	// rate is then up to 1 − (1 − α)^m).
	CorrectionNone = "none"
)

// DefaultCorrection is the correction a comparison applies unless told.
const DefaultCorrection = CorrectionHolm

// Corrections lists the values Options.Correction takes.
func Corrections() []string {
	return []string{CorrectionHolm, CorrectionBonferroni, CorrectionNone}
}

// ParseCorrection checks a correction's name ("" is the default).
func ParseCorrection(s string) (string, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	if name == "" {
		return DefaultCorrection, nil
	}
	if slices.Contains(Corrections(), name) {
		return name, nil
	}
	return "", fmt.Errorf("correction %q: allowed are %s", s, strings.Join(Corrections(), ", "))
}

// Adjust returns the adjusted p values of a family of tests under the
// correction: a test is significant at family-wise level α when its
// adjusted p is below α. NaN values are not tests: they stay NaN and do not
// count in the family's size. Holm's adjusted p of the i-th smallest of m
// is max over j ≤ i of (m − j + 1)·p(j), capped at 1.
func Adjust(ps []float64, correction string) ([]float64, error) {
	correction, err := ParseCorrection(correction)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(ps)
	var idx []int
	for i, p := range ps {
		if !math.IsNaN(p) {
			idx = append(idx, i)
		}
	}
	m := float64(len(idx))
	switch correction {
	case CorrectionNone:
	case CorrectionBonferroni:
		for _, i := range idx {
			out[i] = math.Min(1, m*ps[i])
		}
	case CorrectionHolm:
		slices.SortStableFunc(idx, func(a, b int) int {
			switch {
			case ps[a] < ps[b]:
				return -1
			case ps[a] > ps[b]:
				return 1
			}
			return 0
		})
		running := 0.0
		for rank, i := range idx {
			running = math.Max(running, math.Min(1, (m-float64(rank))*ps[i]))
			out[i] = running
		}
	}
	return out, nil
}
