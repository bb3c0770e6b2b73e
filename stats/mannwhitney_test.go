package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Data of the published examples.
var (
	// Hollander & Wolfe (1973), p. 69f, as in R's ?wilcox.test: permeability
	// constants of the human chorioamnion at term (x) and between 12 and 26
	// weeks of gestation (y). No ties.
	hwX = []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46}
	hwY = []float64{1.15, 0.88, 0.90, 0.74, 1.21}

	// R's datasets::mtcars, mpg split by am (0 = automatic, 1 = manual): the
	// textbook example with ties, wilcox.test(mpg ~ am, data = mtcars).
	mtcarsAuto   = []float64{21.4, 18.7, 18.1, 14.3, 24.4, 22.8, 19.2, 17.8, 16.4, 17.3, 15.2, 10.4, 10.4, 14.7, 21.5, 15.5, 15.2, 13.3, 19.2}
	mtcarsManual = []float64{21.0, 21.0, 22.8, 32.4, 30.4, 33.9, 27.3, 26.0, 30.4, 15.8, 19.7, 15.0, 21.4}

	// The paired example of R's ?wilcox.test (Hollander & Wolfe, p. 29f,
	// depression scale), used here unpaired: it has ties (1.29 in both,
	// 1.06 twice in y), so R uses the normal approximation.
	depX = []float64{1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30}
	depY = []float64{0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29}
)

func TestMannWhitneyU_R(t *testing.T) {
	// Expected numbers: R 4.2.2 (Debian r-base-core 4.2.2.20221110-2),
	// printed with options(digits = 12). Where R's documentation or common
	// textbooks print the same number, the comment says so.
	tests := []struct {
		name       string
		x, y       []float64
		normal     bool // call MannWhitneyUNormal
		continuity bool
		wantU      float64
		wantP      float64
		wantExact  bool
		wantTies   bool
	}{
		{
			// ?wilcox.test prints W = 35, p-value = 0.1272 for
			// alternative = "greater"; two-sided is twice that:
			// wilcox.test(x, y)$p.value = 0.2544122544 (= 764/3003).
			name: "Hollander-Wolfe exact", x: hwX, y: hwY,
			wantU: 35, wantP: 0.2544122544, wantExact: true,
		},
		{
			// ?wilcox.test, "H&W large sample approximation": W = 35,
			// p-value = 0.1103 one-sided; two-sided
			// wilcox.test(x, y, exact = FALSE, correct = FALSE) = 0.2206713619.
			name: "Hollander-Wolfe normal", x: hwX, y: hwY, normal: true,
			wantU: 35, wantP: 0.2206713619,
		},
		{
			// wilcox.test(x, y, exact = FALSE, correct = TRUE) = 0.2446236051.
			name: "Hollander-Wolfe normal continuity", x: hwX, y: hwY, normal: true, continuity: true,
			wantU: 35, wantP: 0.2446236051,
		},
		{
			// wilcox.test(mpg ~ am, data = mtcars): "W = 42, p-value =
			// 0.001871" with the warning "cannot compute exact p-value with
			// ties" (the widely reproduced textbook output);
			// $p.value = 0.001871391333.
			name: "mtcars ties default", x: mtcarsAuto, y: mtcarsManual,
			wantU: 42, wantP: 0.001871391333, wantTies: true,
		},
		{
			// wilcox.test(mpg ~ am, data = mtcars, correct = FALSE)$p.value.
			name: "mtcars ties no continuity", x: mtcarsAuto, y: mtcarsManual, normal: true,
			wantU: 42, wantP: 0.001753335111, wantTies: true,
		},
		{
			// wilcox.test(x, y) on the ?wilcox.test paired data, unpaired:
			// "W = 58, p-value = 0.1329" (continuity correction, ties).
			name: "depression unpaired ties", x: depX, y: depY,
			wantU: 58, wantP: 0.1329194582, wantTies: true,
		},
		{
			// wilcox.test(x, y, exact = FALSE, correct = FALSE)$p.value.
			name: "depression unpaired no continuity", x: depX, y: depY, normal: true,
			wantU: 58, wantP: 0.1218909915, wantTies: true,
		},
		{
			// 12 vs 15 values, no ties: "Wilcoxon rank sum exact test",
			// W = 31, p = 0.00309436454274.
			name:  "12 vs 15 exact",
			x:     []float64{12.1, 14.3, 9.8, 15.2, 11.7, 13.4, 10.9, 16.8, 12.9, 14.9, 11.2, 13.8},
			y:     []float64{13.5, 15.9, 17.2, 14.1, 16.4, 18.3, 12.4, 15.1, 17.9, 16.1, 14.6, 19.2, 13.1, 15.6, 17.5},
			wantU: 31, wantP: 0.00309436454274, wantExact: true,
		},
		{
			// Six runs a side, fully separated: W = 0, p = 2/924 =
			// 0.0021645021645.
			name:  "6 vs 6 separated",
			x:     []float64{1.012, 1.025, 0.998, 1.031, 1.007, 1.019},
			y:     []float64{1.208, 1.221, 1.199, 1.235, 1.214, 1.190},
			wantU: 0, wantP: 0.0021645021645, wantExact: true,
		},
		{
			// methods.md: "With 4 runs a side the smallest possible p is
			// 0.0286" = 2/70.
			name:  "4 vs 4 separated",
			x:     []float64{1, 2, 3, 4},
			y:     []float64{5, 6, 7, 8},
			wantU: 0, wantP: 2.0 / 70, wantExact: true,
		},
		{
			// One run a side: U is 0 or 1 with probability 1/2 each, p = 1.
			name: "1 vs 1", x: []float64{1}, y: []float64{2},
			wantU: 0, wantP: 1, wantExact: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got MannWhitneyResult
			var err error
			if tt.normal {
				got, err = MannWhitneyUNormal(tt.x, tt.y, tt.continuity)
			} else {
				got, err = MannWhitneyU(tt.x, tt.y)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.U != tt.wantU {
				t.Errorf("U = %v, want %v", got.U, tt.wantU)
			}
			if !approxEqual(got.P, tt.wantP, 1e-9) {
				t.Errorf("p = %.12g, want %.12g", got.P, tt.wantP)
			}
			if got.Exact != tt.wantExact {
				t.Errorf("exact = %v, want %v", got.Exact, tt.wantExact)
			}
			if got.Ties != tt.wantTies {
				t.Errorf("ties = %v, want %v", got.Ties, tt.wantTies)
			}
		})
	}
}

// TestMannWhitneyU_LargeNoTies pins the normal approximation used for
// samples of 50 or more without ties. R: x <- sin(1:60) * 10;
// y <- cos(1:55) * 10 + 1; wilcox.test(x, y) gives W = 1554,
// p = 0.592859155656 ("with continuity correction"); correct = FALSE gives
// 0.590924487474. The smallest gap between pooled values is 0.00235, far
// above any difference between R's and Go's sin and cos.
func TestMannWhitneyU_LargeNoTies(t *testing.T) {
	x := make([]float64, 60)
	for i := range x {
		x[i] = math.Sin(float64(i+1)) * 10
	}
	y := make([]float64, 55)
	for i := range y {
		y[i] = math.Cos(float64(i+1))*10 + 1
	}
	got, err := MannWhitneyU(x, y)
	if err != nil {
		t.Fatal(err)
	}
	if got.U != 1554 || got.Exact || got.Ties || !approxEqual(got.P, 0.592859155656, 1e-9) {
		t.Errorf("got %v, want U=1554 p=0.592859155656 normal", got)
	}
	got, _ = MannWhitneyUNormal(x, y, false)
	if !approxEqual(got.P, 0.590924487474, 1e-9) {
		t.Errorf("no continuity: p = %.12g, want 0.590924487474", got.P)
	}
}

// TestMannWhitneyU_Enumeration checks the exact p value against a brute-force
// enumeration of every assignment of the pooled values to the two samples:
// p = 2·min(#{U' ≤ U}, #{U' ≥ U}) / C(n, n1), capped at 1.
func TestMannWhitneyU_Enumeration(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := [][2]int{{1, 1}, {1, 5}, {2, 3}, {3, 3}, {4, 4}, {3, 7}, {5, 6}, {6, 6}, {7, 5}, {10, 5}}
	for _, c := range cases {
		for rep := 0; rep < 5; rep++ {
			x := make([]float64, c[0])
			y := make([]float64, c[1])
			for i := range x {
				x[i] = rng.NormFloat64()
			}
			for i := range y {
				y[i] = rng.NormFloat64() + 0.8
			}
			got, err := MannWhitneyU(x, y)
			if err != nil {
				t.Fatal(err)
			}
			want := enumerateP(x, y)
			if !got.Exact || !approxEqual(got.P, want, 1e-12) {
				t.Errorf("n=%v rep %d: p = %.15g (exact %v), enumeration %.15g", c, rep, got.P, got.Exact, want)
			}
		}
	}
	// Hollander & Wolfe: 764 of the 3003 assignments are at least as
	// extreme (both tails).
	if p := enumerateP(hwX, hwY); !approxEqual(p, 764.0/3003, 1e-15) {
		t.Errorf("enumeration of Hollander-Wolfe: %v, want 764/3003", p)
	}
}

// enumerateP is the exact two-sided p value by enumerating subsets.
func enumerateP(x, y []float64) float64 {
	pool := append(append([]float64{}, x...), y...)
	n, n1 := len(pool), len(x)
	uOf := func(inX func(i int) bool) float64 {
		u := 0.0
		for i := range pool {
			if !inX(i) {
				continue
			}
			for j := range pool {
				if !inX(j) && pool[i] > pool[j] {
					u++
				}
			}
		}
		return u
	}
	u0 := uOf(func(i int) bool { return i < n1 })
	var le, ge, total float64
	for mask := 0; mask < 1<<n; mask++ {
		if popcount(mask) != n1 {
			continue
		}
		u := uOf(func(i int) bool { return mask&(1<<i) != 0 })
		total++
		if u <= u0 {
			le++
		}
		if u >= u0 {
			ge++
		}
	}
	return math.Min(1, 2*math.Min(le, ge)/total)
}

func popcount(m int) int {
	c := 0
	for ; m != 0; m &= m - 1 {
		c++
	}
	return c
}

func TestMannWhitneyU_Symmetric(t *testing.T) {
	a, _ := MannWhitneyU(mtcarsAuto, mtcarsManual)
	b, _ := MannWhitneyU(mtcarsManual, mtcarsAuto)
	if a.U+b.U != float64(len(mtcarsAuto)*len(mtcarsManual)) || !approxEqual(a.P, b.P, 1e-15) {
		t.Errorf("swapping the samples: %v and %v", a, b)
	}
}

func TestMannWhitneyU_Errors(t *testing.T) {
	if _, err := MannWhitneyU(nil, []float64{1}); err == nil {
		t.Error("empty sample: want an error")
	}
	if _, err := MannWhitneyU([]float64{math.NaN()}, []float64{1}); err == nil {
		t.Error("NaN: want an error")
	}
	// All values tied: no evidence, p = 1.
	r, err := MannWhitneyU([]float64{3, 3, 3}, []float64{3, 3})
	if err != nil || r.P != 1 {
		t.Errorf("all tied: %v, %v; want p = 1", r, err)
	}
}

func TestMinPValue(t *testing.T) {
	tests := []struct {
		n1, n2 int
		want   float64
	}{
		{1, 1, 1},
		{3, 3, 0.1},       // 2/C(6,3) = 2/20
		{4, 4, 2.0 / 70},  // methods.md: 0.0286
		{6, 6, 2.0 / 924}, // 0.00216
		{3, 5, 2.0 / 56},  // 0.0357
		{0, 4, 1},
	}
	for _, tt := range tests {
		if got := MinPValue(tt.n1, tt.n2); !approxEqual(got, tt.want, 1e-12) {
			t.Errorf("MinPValue(%d, %d) = %v, want %v", tt.n1, tt.n2, got, tt.want)
		}
	}
}

func TestHodgesLehmann(t *testing.T) {
	tests := []struct {
		name        string
		base, other []float64
		want        float64
	}{
		// R: wilcox.test(x, y, conf.int = TRUE)$estimate = 0.305, the
		// shift x − y for the Hollander-Wolfe data (in the exact case R
		// takes the median of the pairwise differences): base y, other x.
		{"Hollander-Wolfe", hwY, hwX, 0.305},
		// R: median(outer(y, x, "-")) = -0.56 on the depression data.
		{"depression", depX, depY, -0.56},
		// R: median(outer(y, x, "-")) = 2.7 on the 12 vs 15 data.
		{"12 vs 15",
			[]float64{12.1, 14.3, 9.8, 15.2, 11.7, 13.4, 10.9, 16.8, 12.9, 14.9, 11.2, 13.8},
			[]float64{13.5, 15.9, 17.2, 14.1, 16.4, 18.3, 12.4, 15.1, 17.9, 16.1, 14.6, 19.2, 13.1, 15.6, 17.5},
			2.7},
		{"constant shift", []float64{1, 2, 3}, []float64{11, 12, 13}, 10},
	}
	for _, tt := range tests {
		if got := HodgesLehmann(tt.base, tt.other); !approxEqual(got, tt.want, 1e-9) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	if !math.IsNaN(HodgesLehmann(nil, []float64{1})) {
		t.Error("empty: want NaN")
	}
}

func approxEqual(a, b, tol float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b))
}

// BenchmarkMannWhitneyU_Exact49 is the largest exact case (49 + 49 runs).
func BenchmarkMannWhitneyU_Exact49(b *testing.B) {
	x := make([]float64, 49)
	y := make([]float64, 49)
	for i := range x {
		x[i] = float64(2 * i)
		y[i] = float64(2*i+1) + 10
	}
	for b.Loop() {
		if _, err := MannWhitneyU(x, y); err != nil {
			b.Fatal(err)
		}
	}
}
