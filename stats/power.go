package stats

import (
	"math"
)

// DefaultPower is the chance of detecting a change that RunsForPower plans
// for.
const DefaultPower = 0.8

// RunsForPower estimates how many runs a side a two-sided Mann–Whitney test
// at level alpha needs to detect a shift delta with the given power when
// the runs of each side spread with standard deviation sd (same unit as
// delta). It is the two-sample normal formula 2(z₁₋α/₂ + z_power)²·sd²/δ²
// divided by the test's efficiency relative to the t test for normal data,
// 3/π (Noether 1987 gives the same to first order), and never fewer than the
// runs the exact test needs to reach alpha at all. 0 when delta is 0 or not
// finite: nothing to detect.
func RunsForPower(sd, delta, alpha, power float64) int {
	if delta == 0 || math.IsNaN(delta) || math.IsInf(delta, 0) || math.IsNaN(sd) ||
		!(alpha > 0 && alpha < 1) || !(power > 0 && power < 1) {
		return 0
	}
	floor := 1
	for MinPValue(floor, floor) >= alpha {
		floor++
	}
	za := -normalQuantile(alpha / 2)
	zb := normalQuantile(power)
	n := 2 * (za + zb) * (za + zb) * sd * sd / (delta * delta) / (3 / math.Pi)
	if math.IsInf(n, 0) || n > 1e6 {
		return 1e6
	}
	return max(floor, int(math.Ceil(n)))
}

// normalQuantile is the p-quantile of the standard normal distribution.
func normalQuantile(p float64) float64 {
	return math.Sqrt2 * math.Erfinv(2*p-1)
}

// sampleSD is the sample standard deviation (n − 1); NaN below 2 values.
// Not a robust estimate, on purpose: one slow run among six is the spread a
// next series will meet too, and the planned runs must cover it.
func sampleSD(xs []float64) float64 {
	if len(xs) < 2 {
		return math.NaN()
	}
	mean := 0.0
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	ss := 0.0
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return math.Sqrt(ss / float64(len(xs)-1))
}

// pooledSD is the spread of the runs of both sides around their own means:
// the root mean square of the two sides' standard deviations.
func pooledSD(a, b []float64) float64 {
	sa, sb := sampleSD(a), sampleSD(b)
	switch {
	case math.IsNaN(sa):
		return sb
	case math.IsNaN(sb):
		return sa
	}
	return math.Sqrt((sa*sa + sb*sb) / 2)
}
