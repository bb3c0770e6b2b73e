package stats

import (
	"errors"
	"math"
	"math/big"
	"testing"
)

// TestQuantileCI_Table pins the order statistics of the 95% median interval
// and the coverage they achieve. Sources: the binomial sums below, computed
// independently in exactCoverage with big rationals, and R 4.2.2:
//
//	n = 6:   pbinom(0, 6, .5) = 0.015625, pbinom(5, 6, .5) = 0.984375
//	n = 10:  pbinom(1, 10, .5) = 0.0107421875, pbinom(8, 10, .5) = 0.9892578125
//	n = 30:  1 - 2*pbinom(9, 30, .5) = 0.957226054743
//	n = 100: pnorm(2.1) - pnorm(-2.1) = 0.964271158874 (the normal
//	         approximation with continuity correction, n > 30);
//	         exact 1 - 2*pbinom(39, 100, .5) = 0.964799799782
//
// n = 6 with [x(1), x(6)] at 96.875% is benchstat's well-known minimum.
func TestQuantileCI_Table(t *testing.T) {
	tests := []struct {
		n        int
		lo, hi   int
		conf     float64
		approx   bool
		exactCov float64 // coverage of (lo, hi) by the exact binomial
	}{
		{6, 1, 6, 0.96875, false, 0.96875},
		{10, 2, 9, 0.978515625, false, 0.978515625},
		{30, 10, 21, 0.957226054743, false, 0.957226054743},
		{100, 40, 61, 0.964271158874, true, 0.964799799782},
	}
	for _, tt := range tests {
		got, err := QuantileCI(tt.n, 0.5, 0.95)
		if err != nil {
			t.Fatalf("n=%d: %v", tt.n, err)
		}
		if got.Lo != tt.lo || got.Hi != tt.hi || got.Approx != tt.approx {
			t.Errorf("n=%d: indices (%d, %d) approx %v, want (%d, %d) approx %v", tt.n, got.Lo, got.Hi, got.Approx, tt.lo, tt.hi, tt.approx)
		}
		if !approxEqual(got.Confidence, tt.conf, 1e-10) {
			t.Errorf("n=%d: achieved %.12g, want %.12g", tt.n, got.Confidence, tt.conf)
		}
		// Independent check: exact binomial sums with big rationals.
		if cov := exactCoverage(tt.n, tt.lo, tt.hi); !approxEqual(cov, tt.exactCov, 1e-11) {
			t.Errorf("n=%d: exact coverage of (%d, %d) = %.12g, want %.12g", tt.n, tt.lo, tt.hi, cov, tt.exactCov)
		}
		// The indices are the tightest symmetric ones: one step narrower
		// falls below 95% by the exact binomial.
		if cov := exactCoverage(tt.n, tt.lo+1, tt.hi-1); cov >= 0.95 {
			t.Errorf("n=%d: (%d, %d) already covers %.4f: not the tightest", tt.n, tt.lo+1, tt.hi-1, cov)
		}
	}
}

// exactCoverage is P(lo ≤ K < hi) for K ~ Binomial(n, 1/2), summed exactly.
func exactCoverage(n, lo, hi int) float64 {
	sum := new(big.Int)
	for k := lo; k < hi; k++ {
		sum.Add(sum, new(big.Int).Binomial(int64(n), int64(k)))
	}
	r := new(big.Rat).SetFrac(sum, new(big.Int).Lsh(big.NewInt(1), uint(n)))
	f, _ := r.Float64()
	return f
}

func TestQuantileCI_TooFew(t *testing.T) {
	for n := 0; n <= 5; n++ {
		if _, err := QuantileCI(n, 0.5, 0.95); !errors.Is(err, ErrTooFewRuns) {
			t.Errorf("n=%d: err = %v, want ErrTooFewRuns", n, err)
		}
	}
	if got := MinRuns(0.5, 0.95); got != 6 {
		t.Errorf("MinRuns(0.5, 0.95) = %d, want 6", got)
	}
	// 99%: P(K=0) = 2^-n ≤ 0.005 needs n ≥ 8.
	if got := MinRuns(0.5, 0.99); got != 8 {
		t.Errorf("MinRuns(0.5, 0.99) = %d, want 8", got)
	}
	for _, bad := range [][2]float64{{0, 0.95}, {1, 0.95}, {0.5, 0}, {0.5, 1}, {math.NaN(), 0.95}} {
		_, err := QuantileCI(10, bad[0], bad[1])
		if err == nil || errors.Is(err, ErrTooFewRuns) {
			t.Errorf("q=%v conf=%v: err = %v, want a parameter error", bad[0], bad[1], err)
		}
	}
}

// TestQuantileCI_Coverage checks, for every n from 6 to 30 and for a few
// non-median quantiles, that the achieved coverage is at least the requested
// one by the exact binomial.
func TestQuantileCI_Coverage(t *testing.T) {
	for n := 6; n <= 30; n++ {
		ci, err := QuantileCI(n, 0.5, 0.95)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if cov := exactCoverage(n, ci.Lo, ci.Hi); cov < 0.95 || !approxEqual(cov, ci.Confidence, 1e-12) {
			t.Errorf("n=%d: coverage %v (reported %v)", n, cov, ci.Confidence)
		}
		if ci.Lo+ci.Hi != n+1 {
			t.Errorf("n=%d: (%d, %d) not symmetric", n, ci.Lo, ci.Hi)
		}
	}
	// The 90th percentile from 50 runs: K ~ Binomial(50, 0.9).
	ci, err := QuantileCI(50, 0.9, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if ci.Lo >= ci.Hi || ci.Hi > 50 || ci.Confidence < 0.95 {
		t.Errorf("q=0.9 n=50: %+v", ci)
	}
	// Too few runs for the 99th percentile.
	if _, err := QuantileCI(20, 0.99, 0.95); !errors.Is(err, ErrTooFewRuns) {
		t.Errorf("q=0.99 n=20: %v, want ErrTooFewRuns", err)
	}
}

func TestSummarize(t *testing.T) {
	tests := []struct {
		name      string
		xs        []float64
		median    float64
		has       bool
		low, high float64
	}{
		{"empty", nil, math.NaN(), false, math.NaN(), math.NaN()},
		{"one run", []float64{3}, 3, false, 3, 3},
		{"five runs", []float64{5, 1, 4, 2, 3}, 3, false, 3, 3},
		// n = 6: [x(1), x(6)].
		{"six runs", []float64{6, 1, 5, 2, 4, 3}, 3.5, true, 1, 6},
		// n = 10: [x(2), x(9)].
		{"ten runs", []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 5.5, true, 2, 9},
		{"NaN ignored", []float64{1, math.NaN(), 2, 3}, 2, false, 2, 2},
	}
	for _, tt := range tests {
		s, err := Summarize(tt.xs, 0.95)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !sameFloat(s.Median, tt.median) || s.HasInterval != tt.has || !sameFloat(s.Low, tt.low) || !sameFloat(s.High, tt.high) {
			t.Errorf("%s: %+v, want median %v interval %v [%v, %v]", tt.name, s, tt.median, tt.has, tt.low, tt.high)
		}
	}
	if _, err := Summarize([]float64{1}, 1.5); err == nil {
		t.Error("confidence 1.5: want an error")
	}
}

func sameFloat(a, b float64) bool {
	return a == b || (math.IsNaN(a) && math.IsNaN(b))
}
