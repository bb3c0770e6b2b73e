package target

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// expQuantile returns the q-quantile of an exponential with this mean.
func expQuantile(mean time.Duration, q float64) time.Duration {
	return time.Duration(-math.Log1p(-q) * float64(mean))
}

func TestParseDelay(t *testing.T) {
	tests := []struct {
		in     string
		want   string // String() of the result
		median time.Duration
	}{
		{"", "0", 0},
		{"0", "0", 0},
		{"2ms", "2ms", 2 * time.Millisecond},
		{" 250us ", "250µs", 250 * time.Microsecond},
		{"fixed:3ms", "3ms", 3 * time.Millisecond},
		{"uniform:1ms-3ms", "uniform:1ms-3ms", 2 * time.Millisecond},
		{"uniform:2ms-2ms", "2ms", 2 * time.Millisecond},
		{"exp:2ms", "exp:2ms", expQuantile(2*time.Millisecond, 0.5)},
		{"exponential:2ms", "exp:2ms", expQuantile(2*time.Millisecond, 0.5)},
		{"lognormal:2ms,10ms", "lognormal:2ms,10ms", 2 * time.Millisecond},
		{"LogNormal:2ms,2ms", "2ms", 2 * time.Millisecond},
		{"1ms:90,50ms:10", "1ms:90,50ms:10", time.Millisecond},
		{"50ms:10,1ms:90", "1ms:90,50ms:10", time.Millisecond},
		{"1ms:1", "1ms", time.Millisecond},
	}
	for _, tt := range tests {
		d, err := ParseDelay(tt.in)
		if err != nil {
			t.Errorf("ParseDelay(%q): %v", tt.in, err)
			continue
		}
		if got := d.String(); got != tt.want {
			t.Errorf("ParseDelay(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		if got := d.Quantile(0.5); absDur(got-tt.median) > time.Microsecond {
			t.Errorf("ParseDelay(%q).Quantile(0.5) = %v, want %v", tt.in, got, tt.median)
		}
		// String round-trips.
		d2, err := ParseDelay(d.String())
		if err != nil || d2.String() != d.String() {
			t.Errorf("round trip of %q: %v, %v", d.String(), d2, err)
		}
	}
}

func TestParseDelayErrors(t *testing.T) {
	tests := []struct{ in, mention string }{
		{"fast", "not a duration"},
		{"5", "no unit"},
		{"-2ms", "negative"},
		{"2h", "longer than"},
		{"normal:2ms", `unknown distribution "normal"`},
		{"uniform:3ms", "MIN-MAX"},
		{"uniform:3ms-1ms", "below the minimum"},
		{"uniform:x-1ms", "uniform minimum"},
		{"exp:", "missing duration"},
		{"lognormal:2ms", "MEDIAN,P99"},
		{"lognormal:10ms,2ms", "below the median"},
		{"lognormal:0,2ms", "median must be positive"},
		{"1ms:90,50ms", "DURATION:WEIGHT"},
		{"1ms:0,2ms:1", "positive number"},
		{"1ms:-1", "positive number"},
		{"1ms:NaN", "positive number"},
		{"1ms:x", "positive number"},
		{strings.Repeat("1ms:1,", 70) + "1ms:1", "at most 64"},
	}
	for _, tt := range tests {
		_, err := ParseDelay(tt.in)
		if err == nil {
			t.Errorf("ParseDelay(%q): no error", tt.in)
			continue
		}
		if !strings.Contains(err.Error(), tt.mention) {
			t.Errorf("ParseDelay(%q) = %q, want it to mention %q", tt.in, err, tt.mention)
		}
		if !strings.Contains(err.Error(), "uniform:MIN-MAX") {
			t.Errorf("ParseDelay(%q) = %q: does not say what is allowed", tt.in, err)
		}
	}
}

// TestDelaySampler checks every distribution against its configured median
// and 99th percentile over 10k samples, within 10%.
func TestDelaySampler(t *testing.T) {
	tests := []struct {
		spec        string
		median, p99 time.Duration
	}{
		{"2ms", 2 * time.Millisecond, 2 * time.Millisecond},
		{"uniform:1ms-3ms", 2 * time.Millisecond, 2980 * time.Microsecond},
		{"exp:2ms", expQuantile(2*time.Millisecond, 0.5), expQuantile(2*time.Millisecond, 0.99)},
		{"lognormal:2ms,10ms", 2 * time.Millisecond, 10 * time.Millisecond},
		{"1ms:90,50ms:10", time.Millisecond, 50 * time.Millisecond},
		{"1ms:40,5ms:59.5,50ms:0.5", 5 * time.Millisecond, 5 * time.Millisecond},
	}
	const n = 10_000
	r := rand.New(rand.NewPCG(1, 2))
	for _, tt := range tests {
		d, err := ParseDelay(tt.spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Quantile(0.5); !within(got, tt.median, 0.001) {
			t.Errorf("%s: Quantile(0.5) = %v, want %v", tt.spec, got, tt.median)
		}
		if got := d.Quantile(0.99); !within(got, tt.p99, 0.001) {
			t.Errorf("%s: Quantile(0.99) = %v, want %v", tt.spec, got, tt.p99)
		}
		samples := make([]time.Duration, n)
		for i := range samples {
			samples[i] = d.Sample(r)
		}
		slices.Sort(samples)
		if got := samples[n/2]; !within(got, tt.median, 0.10) {
			t.Errorf("%s: sampled median %v, want %v ±10%%", tt.spec, got, tt.median)
		}
		if got := samples[n*99/100]; !within(got, tt.p99, 0.10) {
			t.Errorf("%s: sampled p99 %v, want %v ±10%%", tt.spec, got, tt.p99)
		}
		// The unseeded path (the server's) draws from the same law.
		for i := range samples {
			samples[i] = d.Sample(nil)
		}
		slices.Sort(samples)
		if got := samples[n/2]; !within(got, tt.median, 0.10) {
			t.Errorf("%s: sampled median (runtime rand) %v, want %v ±10%%", tt.spec, got, tt.median)
		}
	}
}

func TestDelayBounds(t *testing.T) {
	if got := FixedDelay(-time.Second); !got.IsZero() {
		t.Errorf("FixedDelay(-1s) = %v, want zero", got)
	}
	if got := FixedDelay(48 * time.Hour).Sample(nil); got != MaxDelay {
		t.Errorf("FixedDelay(48h) samples %v, want %v", got, MaxDelay)
	}
	// A heavy tail is clamped, never negative or beyond MaxDelay.
	d, err := ParseDelay("lognormal:1ms,59m")
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 10_000 {
		if v := d.Sample(r); v < 0 || v > MaxDelay {
			t.Fatalf("sample %v out of bounds", v)
		}
	}
	var z Delay
	if z.Sample(nil) != 0 || z.String() != "0" || !z.IsZero() {
		t.Error("zero Delay is not no delay")
	}
}

func TestDelayText(t *testing.T) {
	var d Delay
	if err := d.UnmarshalText([]byte("exp:3ms")); err != nil {
		t.Fatal(err)
	}
	b, _ := d.MarshalText()
	if string(b) != "exp:3ms" {
		t.Errorf("MarshalText = %q", b)
	}
	if err := d.UnmarshalText([]byte("bogus:1ms")); err == nil {
		t.Error("UnmarshalText accepted bogus:1ms")
	}
}

func FuzzParseDelay(f *testing.F) {
	for _, s := range []string{"2ms", "uniform:1ms-3ms", "exp:2ms", "lognormal:2ms,10ms", "1ms:90,50ms:10", "normal:1", "1ms:1e308,2ms:1e308"} {
		f.Add(s)
	}
	r := rand.New(rand.NewPCG(5, 6))
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDelay(s)
		if err != nil {
			return
		}
		for range 16 {
			if v := d.Sample(r); v < 0 || v > MaxDelay {
				t.Fatalf("%q: sample %v out of bounds", s, v)
			}
		}
		for _, q := range []float64{0, 0.5, 0.99, 1} {
			if v := d.Quantile(q); v < 0 || v > MaxDelay {
				t.Fatalf("%q: quantile %v = %v out of bounds", s, q, v)
			}
		}
		d2, err := ParseDelay(d.String())
		if err != nil {
			t.Fatalf("%q: String %q does not parse: %v", s, d.String(), err)
		}
		if d2.String() != d.String() {
			t.Fatalf("%q: round trip %q != %q", s, d2.String(), d.String())
		}
	})
}

func within(got, want time.Duration, tol float64) bool {
	if want == 0 {
		return got == 0
	}
	return math.Abs(float64(got-want)) <= tol*float64(want)
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
