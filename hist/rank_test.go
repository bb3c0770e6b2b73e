package hist

import (
	"math/big"
	"math/rand/v2"
	"testing"
	"time"
)

// The percentiles the tests ask for, each with its exact value as a
// fraction, so the reference rank is computed in integers.
var rankPercentiles = []struct {
	p        float64
	num, den int64 // p = num/den
}{
	{0, 0, 1}, {0.1, 1, 10}, {50, 50, 1}, {90, 90, 1}, {99, 99, 1},
	{99.9, 999, 10}, {99.99, 9999, 100}, {100, 100, 1},
}

// nearestRank is the plain definition over a histogram's own buckets: the
// rank is ceil(p/100·N), at least 1, in exact arithmetic; the answer is the
// highest value of the bucket holding that rank (the lowest for p = 0).
func nearestRank(bs []Bucket, num, den int64) time.Duration {
	var n int64
	for _, b := range bs {
		n += b.Count
	}
	r := new(big.Int).Mul(big.NewInt(num), big.NewInt(n))
	d := big.NewInt(den * 100)
	r.Add(r, new(big.Int).Sub(d, big.NewInt(1)))
	r.Quo(r, d) // ceil(num·n / (den·100))
	rank := max(r.Int64(), 1)
	var seen int64
	for _, b := range bs {
		seen += b.Count
		if seen >= rank {
			if num == 0 {
				return b.From
			}
			return b.To
		}
	}
	return 0
}

// Property: for random counts and values, Percentile and Percentiles agree
// with the plain nearest-rank computation over the histogram's buckets.
func TestPercentileIsNearestRank(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 99))
	for iter := 0; iter < 300; iter++ {
		h := New()
		n := 1 + rng.IntN(3000)
		if iter%10 == 0 {
			n = 1 + rng.IntN(9) // small N, where the rules differ most
		}
		spread := []time.Duration{time.Millisecond, 50 * time.Millisecond, 10 * time.Second}[iter%3]
		for i := 0; i < n; i++ {
			h.Record(time.Duration(rng.Int64N(int64(spread))))
		}
		if iter%7 == 0 { // repeated values and large counts
			h.RecordN(time.Duration(rng.Int64N(int64(spread))), 1+rng.Int64N(1<<32))
		}
		checkNearestRank(t, h)
	}
}

func checkNearestRank(t *testing.T, h *Histogram) {
	t.Helper()
	bs := h.Buckets()
	ps := make([]float64, len(rankPercentiles))
	for i, rp := range rankPercentiles {
		ps[i] = rp.p
	}
	all := h.Percentiles(ps)
	for i, rp := range rankPercentiles {
		want := nearestRank(bs, rp.num, rp.den)
		if got := h.Percentile(rp.p); got != want {
			t.Fatalf("N=%d p%v = %v, nearest rank gives %v", h.Count(), rp.p, got, want)
		}
		if all[i] != want {
			t.Fatalf("N=%d Percentiles p%v = %v, nearest rank gives %v", h.Count(), rp.p, all[i], want)
		}
	}
}

// The example: with 199 samples, p99 is the 198th value
// (ceil(0.99·199) = 198), not the 197th that round(0.99·199) gives.
func TestPercentile199Samples(t *testing.T) {
	h := New()
	for i := 1; i <= 199; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	// Values to 2.047 ms are kept to the microsecond; above, a bucket is a
	// few µs wide, so the answer is the top of the 198 ms bucket.
	p99 := h.Percentile(99)
	if p99 < 198*time.Millisecond || p99 >= 198*time.Millisecond+198*time.Microsecond {
		t.Errorf("p99 of 1..199 ms = %v, want the 198th value, 198 ms", p99)
	}
	if p50 := h.Percentile(50); p50 < 100*time.Millisecond || p50 >= 100100*time.Microsecond {
		t.Errorf("p50 of 1..199 ms = %v, want the 100th value, 100 ms", p50)
	}
	if p0 := h.Percentile(0); p0 != time.Millisecond {
		t.Errorf("p0 = %v, want 1 ms", p0)
	}
	if p100 := h.Percentile(100); p100 != h.Max() {
		t.Errorf("p100 = %v, max %v", p100, h.Max())
	}
}

// Rank follows HdrHistogram's arithmetic: the ulp taken off keeps exact
// products from rounding up to the next rank.
func TestRank(t *testing.T) {
	for _, c := range []struct {
		p    float64
		n    int64
		want int64
	}{
		{99, 199, 198}, {99, 200, 198}, {99, 100, 99}, {50, 1, 1}, {50, 2, 1}, {50, 3, 2},
		{0, 10, 1}, {0.1, 10, 1}, {100, 10, 10}, {150, 10, 10}, {-1, 10, 1}, {99.9, 1000, 999},
		{99.99, 10000, 9999}, {90, 10, 9}, {50, 0, 0},
	} {
		if got := Rank(c.p, c.n); got != c.want {
			t.Errorf("Rank(%v, %d) = %d, want %d", c.p, c.n, got, c.want)
		}
	}
}

func BenchmarkPercentile(b *testing.B) {
	h := New()
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100000; i++ {
		h.Record(time.Duration(rng.Int64N(int64(time.Second))))
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = h.Percentile(99)
	}
}
