package stats

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// DefaultResamples is the number of bootstrap resamples unless a caller asks
// for another.
const DefaultResamples = 10000

// DefaultSeed seeds the bootstrap when a caller gives no seed, so that a
// comparison printed twice shows the same interval.
const DefaultSeed uint64 = 0x5350_4d5f_6273 // "SMP_bs"

// BootstrapInterval is a statistic of two samples (the ratio or the
// difference of their medians) with a percentile bootstrap interval.
type BootstrapInterval struct {
	Estimate  float64
	Low, High float64
	// Confidence is the nominal level of the percentile interval.
	Confidence float64
	Resamples  int
	Seed       uint64
}

// BootstrapRatio estimates median(other)/median(base) and a percentile
// bootstrap interval at the confidence: each resample draws len(base) runs
// from base and len(other) runs from other, with replacement and
// independently, and takes the ratio of their medians; the interval is the
// α/2 and 1−α/2 quantiles (type 7) of those ratios. The random stream is PCG
// seeded with seed, so equal inputs and seed give an equal interval.
//
// A resample whose base median is 0 gives +Inf (or, when its other median is
// 0 too, 1: both medians equal). Either sample being empty is an error.
func BootstrapRatio(base, other []float64, confidence float64, resamples int, seed uint64) (BootstrapInterval, error) {
	return bootstrap(base, other, confidence, resamples, seed, ratio)
}

// BootstrapDifference is BootstrapRatio for median(other) − median(base):
// the change of a metric whose relative change means little, such as an
// error rate that starts at 0.
func BootstrapDifference(base, other []float64, confidence float64, resamples int, seed uint64) (BootstrapInterval, error) {
	return bootstrap(base, other, confidence, resamples, seed, func(o, b float64) float64 { return o - b })
}

func bootstrap(base, other []float64, confidence float64, resamples int, seed uint64, stat func(otherMedian, baseMedian float64) float64) (BootstrapInterval, error) {
	if len(base) == 0 || len(other) == 0 {
		return BootstrapInterval{}, errors.New("bootstrap: both samples need at least one value")
	}
	if !(confidence > 0 && confidence < 1) {
		return BootstrapInterval{}, fmt.Errorf("bootstrap: confidence %v: must be in (0, 1)", confidence)
	}
	if resamples < 1 {
		return BootstrapInterval{}, fmt.Errorf("bootstrap: %d resamples: need at least 1", resamples)
	}
	for _, v := range append(slices.Clone(base), other...) {
		if math.IsNaN(v) {
			return BootstrapInterval{}, errors.New("bootstrap: NaN in sample")
		}
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	bs := make([]float64, len(base))
	ors := make([]float64, len(other))
	vals := make([]float64, resamples)
	for i := range vals {
		for j := range bs {
			bs[j] = base[rng.IntN(len(base))]
		}
		for j := range ors {
			ors[j] = other[rng.IntN(len(other))]
		}
		slices.Sort(bs)
		slices.Sort(ors)
		vals[i] = stat(medianSorted(ors), medianSorted(bs))
	}
	slices.Sort(vals)
	alpha := 1 - confidence
	return BootstrapInterval{
		Estimate:   stat(Median(other), Median(base)),
		Low:        quantileSorted(vals, alpha/2),
		High:       quantileSorted(vals, 1-alpha/2),
		Confidence: confidence,
		Resamples:  resamples,
		Seed:       seed,
	}, nil
}

// ratio is a/b with 0/0 = 1 (no change) and a/0 = ±Inf.
func ratio(a, b float64) float64 {
	if b == 0 {
		switch {
		case a == 0:
			return 1
		case a > 0:
			return math.Inf(1)
		default:
			return math.Inf(-1)
		}
	}
	return a / b
}
