package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestBootstrapRatio_Reproducible(t *testing.T) {
	base := []float64{1.01, 0.99, 1.03, 0.98, 1.00, 1.02}
	other := []float64{1.21, 1.19, 1.24, 1.18, 1.20, 1.22}
	a, err := BootstrapRatio(base, other, 0.95, 2000, 42)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := BootstrapRatio(base, other, 0.95, 2000, 42)
	if a != b {
		t.Errorf("same seed, different intervals: %+v and %+v", a, b)
	}
	c, _ := BootstrapRatio(base, other, 0.95, 2000, 43)
	if c.Low == a.Low && c.High == a.High {
		t.Errorf("seed 43 gave the interval of seed 42: %+v", c)
	}
	// The point estimate: median(other)/median(base) = 1.205/1.005.
	if !approxEqual(a.Estimate, 1.205/1.005, 1e-12) {
		t.Errorf("ratio %v, want %v", a.Estimate, 1.205/1.005)
	}
	// Every resampled ratio lies between min(other)/max(base) and
	// max(other)/min(base).
	if a.Low < 1.18/1.03 || a.High > 1.24/0.98 || a.Low > a.Estimate || a.High < a.Estimate {
		t.Errorf("interval [%v, %v] around %v out of bounds", a.Low, a.High, a.Estimate)
	}
}

// TestBootstrapRatio_ContainsTrueRatio draws runs whose true medians are 100
// and 120 (true ratio 1.2) and checks that the interval contains 1.2 for a
// fixed seed, and that over 200 data sets the 95% interval covers it at a
// rate a percentile bootstrap of medians with 10 runs a side can reach.
func TestBootstrapRatio_ContainsTrueRatio(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	draw := func(center float64, n int) []float64 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = center * (1 + 0.03*rng.NormFloat64())
		}
		return xs
	}
	first, err := BootstrapRatio(draw(100, 10), draw(120, 10), 0.95, 2000, 1)
	if err != nil {
		t.Fatal(err)
	}
	if first.Low > 1.2 || first.High < 1.2 {
		t.Errorf("interval [%v, %v] misses the true ratio 1.2", first.Low, first.High)
	}
	covered := 0
	const sets = 200
	for i := 0; i < sets; i++ {
		ri, err := BootstrapRatio(draw(100, 10), draw(120, 10), 0.95, 1000, uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		if ri.Low <= 1.2 && 1.2 <= ri.High {
			covered++
		}
	}
	if covered < sets*85/100 {
		t.Errorf("coverage %d/%d, want at least 85%%", covered, sets)
	}
}

func TestBootstrapRatio_Edges(t *testing.T) {
	tests := []struct {
		name        string
		base, other []float64
		conf        float64
		resamples   int
		wantErr     bool
		ratio       float64
	}{
		{"empty base", nil, []float64{1}, 0.95, 100, true, 0},
		{"NaN", []float64{math.NaN()}, []float64{1}, 0.95, 100, true, 0},
		{"bad confidence", []float64{1}, []float64{1}, 1, 100, true, 0},
		{"no resamples", []float64{1}, []float64{1}, 0.95, 0, true, 0},
		{"both zero", []float64{0, 0}, []float64{0, 0}, 0.95, 100, false, 1},
		{"base zero", []float64{0, 0}, []float64{1, 1}, 0.95, 100, false, math.Inf(1)},
	}
	for _, tt := range tests {
		ri, err := BootstrapRatio(tt.base, tt.other, tt.conf, tt.resamples, 1)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err = %v, want error %v", tt.name, err, tt.wantErr)
			continue
		}
		if err == nil && ri.Estimate != tt.ratio {
			t.Errorf("%s: ratio %v, want %v", tt.name, ri.Estimate, tt.ratio)
		}
	}
}

func TestQuantileSorted(t *testing.T) {
	// R: quantile(c(1, 2, 3, 4), c(0.025, 0.5, 0.975)) (type 7) =
	// 1.075, 2.5, 3.925.
	s := []float64{1, 2, 3, 4}
	for _, tt := range []struct{ p, want float64 }{{0.025, 1.075}, {0.5, 2.5}, {0.975, 3.925}, {0, 1}, {1, 4}} {
		if got := quantileSorted(s, tt.p); !approxEqual(got, tt.want, 1e-12) {
			t.Errorf("quantile(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
}

func TestBootstrapDifference(t *testing.T) {
	base := []float64{0, 0, 0.01, 0, 0.02, 0}
	other := []float64{0.5, 0.4, 0.6, 0.55, 0.45, 0.5}
	a, err := BootstrapDifference(base, other, 0.95, 2000, 9)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := BootstrapDifference(base, other, 0.95, 2000, 9)
	// median(other) − median(base) = 0.5 − 0.
	if a != b || a.Estimate != 0.5 || a.Low > 0.5 || a.High < 0.5 || a.Low < 0.4-0.02 || a.High > 0.6 {
		t.Errorf("%+v (again %+v)", a, b)
	}
}
