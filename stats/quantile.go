package stats

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrTooFewRuns reports that the number of runs cannot support an interval
// at the requested confidence. Test with errors.Is.
var ErrTooFewRuns = errors.New("too few runs for a confidence interval")

// exactBinomialMax is the largest n for which QuantileCI sums the binomial
// distribution exactly; above it, the normal approximation with continuity
// correction is used.
const exactBinomialMax = 30

// OrderCI is a distribution-free confidence interval for a quantile, given as
// 1-based indices into the sorted sample: [x(Lo), x(Hi)].
type OrderCI struct {
	N      int
	Lo, Hi int
	// Confidence is the coverage P(Lo ≤ K < Hi) achieved by these indices
	// (at least the requested confidence), computed by the same method that
	// chose them.
	Confidence float64
	// Approx is true when the normal approximation was used (N > 30).
	Approx bool
}

// QuantileCI chooses the order statistics that bound the q-quantile of the
// population with probability at least confidence, for a sample of n
// independent values. With K ~ Binomial(n, q) the number of values below the
// quantile, [x(l), x(r)] covers it with probability P(l ≤ K < r); l is the
// largest index with P(K < l) ≤ α/2 and r the smallest with P(K ≥ r) ≤ α/2,
// α = 1 − confidence. The binomial is exact for n ≤ 30; above, it is
// approximated by the normal distribution with continuity correction.
//
// It returns an error wrapping ErrTooFewRuns when no such indices exist
// within 1..n, and another error when q or confidence is not in (0, 1).
func QuantileCI(n int, q, confidence float64) (OrderCI, error) {
	if !(q > 0 && q < 1) {
		return OrderCI{}, fmt.Errorf("quantile %v: must be in (0, 1)", q)
	}
	if !(confidence > 0 && confidence < 1) {
		return OrderCI{}, fmt.Errorf("confidence %v: must be in (0, 1)", confidence)
	}
	if n < 1 {
		return OrderCI{}, fmt.Errorf("%d runs: %w", n, ErrTooFewRuns)
	}
	cdf, approx := binomialCDF(n, q)
	tail := (1 - confidence) / 2
	// Tolerate rounding in the comparison: 1/64 ≤ 0.025 must hold exactly,
	// and a tail that equals α/2 up to the last bits is accepted.
	const eps = 1e-12
	lo := 0
	for l := 1; l <= n; l++ {
		if cdf(l-1) <= tail+eps {
			lo = l
		} else {
			break
		}
	}
	hi := 0
	for r := n; r >= 1; r-- {
		if 1-cdf(r-1) <= tail+eps {
			hi = r
		} else {
			break
		}
	}
	if lo == 0 || hi == 0 || lo >= hi {
		return OrderCI{}, fmt.Errorf("%d runs at %g%% confidence (need at least %d): %w",
			n, 100*confidence, MinRuns(q, confidence), ErrTooFewRuns)
	}
	return OrderCI{N: n, Lo: lo, Hi: hi, Confidence: cdf(hi-1) - cdf(lo-1), Approx: approx}, nil
}

// MinRuns is the smallest number of runs for which QuantileCI gives an
// interval for the q-quantile at the confidence; 6 for the median at 95%.
// It returns 0 when q or confidence is out of range or no n up to 10,000
// suffices.
func MinRuns(q, confidence float64) int {
	if !(q > 0 && q < 1) || !(confidence > 0 && confidence < 1) {
		return 0
	}
	for n := 1; n <= 10000; n++ {
		cdf, _ := binomialCDF(n, q)
		tail := (1 - confidence) / 2
		if cdf(0) <= tail+1e-12 && 1-cdf(n-1) <= tail+1e-12 {
			return n
		}
	}
	return 0
}

// binomialCDF returns k ↦ P(K ≤ k) for K ~ Binomial(n, q): exact for
// n ≤ exactBinomialMax, else the normal approximation with continuity
// correction (approx true).
func binomialCDF(n int, q float64) (cdf func(k int) float64, approx bool) {
	if n > exactBinomialMax {
		mean := float64(n) * q
		sd := math.Sqrt(float64(n) * q * (1 - q))
		return func(k int) float64 {
			if k < 0 {
				return 0
			}
			if k >= n {
				return 1
			}
			return normalCDF((float64(k) + 0.5 - mean) / sd)
		}, true
	}
	// C(n, k) by Pascal's rule is exact in a float64 for n ≤ 30, and for
	// q = 1/2 so is every term C(n, k)·2⁻ⁿ: the median's sums are exact.
	choose := make([]float64, n+1)
	choose[0] = 1
	for i := 1; i <= n; i++ {
		for k := i; k >= 1; k-- {
			choose[k] += choose[k-1]
		}
	}
	cum := make([]float64, n+1)
	sum := 0.0
	for k := 0; k <= n; k++ {
		sum += choose[k] * math.Pow(q, float64(k)) * math.Pow(1-q, float64(n-k))
		cum[k] = sum
	}
	return func(k int) float64 {
		if k < 0 {
			return 0
		}
		if k >= n {
			return 1
		}
		return cum[k]
	}, false
}

// lchoose is log C(n, k).
func lchoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// normalCDF is Φ(z), accurate in the tails.
func normalCDF(z float64) float64 {
	return 0.5 * math.Erfc(-z/math.Sqrt2)
}

// Median is the median of xs (the mean of the two middle values for an even
// count); NaN for an empty slice. xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return medianSorted(s)
}

func medianSorted(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// quantileSorted is the type-7 (linear interpolation, R's default) p-quantile
// of a sorted non-empty slice.
func quantileSorted(s []float64, p float64) float64 {
	if len(s) == 1 {
		return s[0]
	}
	h := p * float64(len(s)-1)
	i := int(math.Floor(h))
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	if i < 0 {
		return s[0]
	}
	lo, hi := s[i], s[i+1]
	if lo == hi || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		if h == float64(i) {
			return lo
		}
		return hi
	}
	return lo + (h-float64(i))*(hi-lo)
}

// Summary is a metric across runs: the median and, when the number of runs
// supports it, a distribution-free interval.
type Summary struct {
	N      int
	Median float64
	// HasInterval is false when N is below MinRuns for the confidence;
	// Low and High are then the median.
	HasInterval bool
	Low, High   float64
	// Confidence is the requested confidence; CI holds the achieved one.
	Confidence float64
	CI         OrderCI
}

// Summarize computes the median of xs and its interval at the confidence
// (0.95 if 0). Values that are NaN are ignored. A sample too small for the
// interval gives a Summary with HasInterval false, not an error; an error is
// returned only for a confidence outside (0, 1).
func Summarize(xs []float64, confidence float64) (Summary, error) {
	if confidence == 0 {
		confidence = DefaultConfidence
	}
	if !(confidence > 0 && confidence < 1) {
		return Summary{}, fmt.Errorf("confidence %v: must be in (0, 1)", confidence)
	}
	s := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			s = append(s, x)
		}
	}
	slices.Sort(s)
	sum := Summary{N: len(s), Confidence: confidence, Median: math.NaN(), Low: math.NaN(), High: math.NaN()}
	if len(s) == 0 {
		return sum, nil
	}
	sum.Median = medianSorted(s)
	sum.Low, sum.High = sum.Median, sum.Median
	ci, err := QuantileCI(len(s), 0.5, confidence)
	if err != nil {
		if errors.Is(err, ErrTooFewRuns) {
			return sum, nil
		}
		return Summary{}, err
	}
	sum.HasInterval = true
	sum.CI = ci
	sum.Low, sum.High = s[ci.Lo-1], s[ci.Hi-1]
	return sum, nil
}

// DefaultConfidence is the confidence of intervals unless a caller asks for
// another.
const DefaultConfidence = 0.95

// DefaultAlpha is the significance level of comparisons.
const DefaultAlpha = 0.05
