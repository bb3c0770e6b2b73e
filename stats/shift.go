package stats

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// ShiftInterval is the Hodges–Lehmann estimate of the shift from one sample
// to another with its distribution-free confidence interval.
type ShiftInterval struct {
	Estimate  float64
	Low, High float64
	// Confidence is the coverage the interval achieves: at least the level
	// asked for (0.959 for 6 runs a side at 95%), since U is discrete.
	Confidence float64
}

// ErrTooFewForShift is returned when the sample sizes cannot give a shift
// interval at the confidence asked for (fewer than 4 runs a side at 95%).
var ErrTooFewForShift = errors.New("too few runs for a shift interval")

// HodgesLehmannCI is the interval for the shift δ in "other is base moved by
// δ" that inverts the Mann–Whitney test (Bauer 1972; R's
// wilcox.test(conf.int = TRUE)): with D(1) ≤ … ≤ D(N) the N = n1·n2
// pairwise differences other_j − base_i, the interval is [D(k), D(N+1−k)]
// where k − 1 is the largest u with P(U ≤ u) ≤ (1 − confidence)/2 under the
// null distribution of U. It covers δ with probability at least the
// confidence whatever the distribution, as long as the samples differ only
// by the shift; a percentile bootstrap of medians has no such guarantee at
// 6 runs a side (its resamples take few distinct values, and its coverage
// depends on the data), and none at all below 6. U's distribution is exact
// below 50 a side and normal above.
func HodgesLehmannCI(base, other []float64, confidence float64) (ShiftInterval, error) {
	if len(base) == 0 || len(other) == 0 {
		return ShiftInterval{}, errors.New("shift interval: both samples need at least one value")
	}
	if !(confidence > 0 && confidence < 1) {
		return ShiftInterval{}, fmt.Errorf("shift interval: confidence %v: must be in (0, 1)", confidence)
	}
	d := make([]float64, 0, len(base)*len(other))
	for _, b := range base {
		for _, o := range other {
			if math.IsNaN(o - b) {
				return ShiftInterval{}, errors.New("shift interval: NaN in sample")
			}
			d = append(d, o-b)
		}
	}
	slices.Sort(d)
	k, tail, ok := shiftRank(len(base), len(other), (1-confidence)/2)
	if !ok {
		return ShiftInterval{}, fmt.Errorf("%w: %d and %d runs give at most %.1f%%", ErrTooFewForShift,
			len(base), len(other), 100*(1-2*tail))
	}
	return ShiftInterval{
		Estimate:   medianSorted(d),
		Low:        d[k-1],
		High:       d[len(d)-k],
		Confidence: 1 - 2*tail,
	}, nil
}

// shiftRank finds the 1-based rank k of the interval's lower end and the
// tail P(U ≤ k−1) it leaves; ok is false when even k = 1 leaves more than
// half (then tail is P(U ≤ 0)).
func shiftRank(n1, n2 int, half float64) (k int, tail float64, ok bool) {
	if n1 < exactMaxN && n2 < exactMaxN {
		dist := uDistribution(n1, n2)
		cum := 0.0
		for u, p := range dist {
			if cum+p > half*(1+1e-12) {
				if u == 0 {
					return 0, p, false
				}
				return u, cum, true
			}
			cum += p
		}
		return 0, 0, false
	}
	mu := float64(n1*n2) / 2
	sigma := math.Sqrt(float64(n1*n2) * float64(n1+n2+1) / 12)
	z := math.Sqrt2 * math.Erfinv(2*half-1) // the half-quantile, negative
	c := math.Floor(mu - 0.5 + z*sigma)
	if c < 0 {
		return 0, normalCDF((0.5 - mu) / sigma), false
	}
	return int(c) + 1, normalCDF((c + 0.5 - mu) / sigma), true
}

// MinShiftRuns is the smallest n for which n runs a side give a shift
// interval at the confidence (4 at 95%).
func MinShiftRuns(confidence float64) int {
	for n := 1; n < exactMaxN; n++ {
		if _, _, ok := shiftRank(n, n, (1-confidence)/2); ok {
			return n
		}
	}
	return exactMaxN
}

// ratioInterval is the interval for median(other)/median(base) under the
// model that other is base scaled by a factor: the Hodges–Lehmann interval
// of the shift of the logarithms, turned back into a ratio. Latencies and
// rates vary by a factor more than by an offset (a run twice as slow is
// slower in every percentile in proportion), and the log makes the interval
// fit a ratio of medians. ok is false when a value is not positive.
func ratioInterval(base, other []float64, confidence float64) (ShiftInterval, bool, error) {
	lb, lo := make([]float64, len(base)), make([]float64, len(other))
	for i, v := range base {
		if !(v > 0) || math.IsInf(v, 0) {
			return ShiftInterval{}, false, nil
		}
		lb[i] = math.Log(v)
	}
	for i, v := range other {
		if !(v > 0) || math.IsInf(v, 0) {
			return ShiftInterval{}, false, nil
		}
		lo[i] = math.Log(v)
	}
	si, err := HodgesLehmannCI(lb, lo, confidence)
	if err != nil {
		return si, false, err
	}
	si.Estimate, si.Low, si.High = math.Exp(si.Estimate), math.Exp(si.Low), math.Exp(si.High)
	return si, true, nil
}
