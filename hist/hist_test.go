package hist

import (
	"errors"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

func TestRecordAndQuery(t *testing.T) {
	tests := []struct {
		name    string
		values  []time.Duration
		p       float64
		want    time.Duration
		min     time.Duration
		max     time.Duration
		mean    time.Duration
		tolMean time.Duration
	}{
		{name: "empty", p: 50},
		{name: "one", values: []time.Duration{2 * time.Millisecond}, p: 99,
			want: 2 * time.Millisecond, min: 2 * time.Millisecond, max: 2 * time.Millisecond, mean: 2 * time.Millisecond, tolMean: time.Microsecond},
		{name: "sub-microsecond rounds", values: []time.Duration{400, 600}, p: 100,
			want: time.Microsecond, min: 0, max: time.Microsecond, mean: 500, tolMean: 1},
		{name: "negative records zero", values: []time.Duration{-5 * time.Second}, p: 50},
		{name: "median of 1..1000 us", values: series(1000, time.Microsecond), p: 50,
			want: 500 * time.Microsecond, min: time.Microsecond, max: 1000 * time.Microsecond, mean: 500500 * time.Nanosecond, tolMean: time.Microsecond},
		{name: "p99 of 1..1000 ms within precision", values: series(1000, time.Millisecond), p: 99,
			want: 990 * time.Millisecond, min: time.Millisecond, max: 1000 * time.Millisecond, mean: 500500 * time.Microsecond, tolMean: 500 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New()
			for _, v := range tt.values {
				h.Record(v)
			}
			if got := h.Count(); got != int64(len(tt.values)) {
				t.Fatalf("Count = %d, want %d", got, len(tt.values))
			}
			within(t, "percentile", h.Percentile(tt.p), tt.want, tt.want/1000)
			within(t, "min", h.Min(), tt.min, tt.min/1000)
			within(t, "max", h.Max(), tt.max, tt.max/1000)
			within(t, "mean", h.Mean(), tt.mean, tt.tolMean)
		})
	}
}

func TestSaturation(t *testing.T) {
	h := New()
	h.Record(2 * time.Hour)
	h.RecordN(time.Millisecond, 3)
	h.RecordN(time.Millisecond, 0)
	if h.Count() != 4 || h.Saturated() != 1 {
		t.Fatalf("Count %d Saturated %d, want 4 and 1", h.Count(), h.Saturated())
	}
	within(t, "max", h.Max(), time.Hour, time.Hour/1000)
}

func TestPercentiles(t *testing.T) {
	h := New()
	for _, v := range series(10000, time.Microsecond) {
		h.Record(v)
	}
	ps := []float64{50, 90, 99, 99.9, 99.99, 100}
	got := h.Percentiles(ps)
	for i, p := range ps {
		if single := h.Percentile(p); got[i] != single {
			t.Errorf("Percentiles[%v] = %v, Percentile = %v", p, got[i], single)
		}
		want := time.Duration(p*100) * time.Microsecond
		within(t, "p", got[i], want, want/1000+time.Microsecond)
	}
	if got := New().Percentiles(ps); len(got) != len(ps) || got[0] != 0 {
		t.Errorf("empty Percentiles = %v", got)
	}
}

func TestMergeIsExact(t *testing.T) {
	a, b, all := New(), New(), New()
	for i, v := range series(5000, 37*time.Microsecond) {
		all.Record(v)
		if i%3 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	b.Record(3 * time.Hour)
	all.Record(3 * time.Hour)
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	if !a.Equal(all) {
		t.Fatal("merged histogram differs from the one that saw every value")
	}
	if a.Saturated() != 1 {
		t.Errorf("Saturated after merge = %d, want 1", a.Saturated())
	}
	c := a.Clone()
	a.Reset()
	if a.Count() != 0 || a.Saturated() != 0 || !c.Equal(all) {
		t.Error("Reset touched the clone or did not empty the histogram")
	}
}

func TestMergeRejectsOtherGeometry(t *testing.T) {
	other := &Histogram{h: hdr.New(1, 1000, 2)}
	if err := New().Merge(other); !errors.Is(err, ErrGeometry) {
		t.Fatalf("Merge of a foreign histogram: err = %v, want ErrGeometry", err)
	}
}

func TestEncodeDecode(t *testing.T) {
	tests := []struct {
		name   string
		values []time.Duration
	}{
		{"empty", nil},
		{"small", []time.Duration{time.Microsecond, 2 * time.Millisecond, time.Second}},
		{"wide", series(20000, 173*time.Microsecond)},
		{"extremes", []time.Duration{0, time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New()
			for _, v := range tt.values {
				h.Record(v)
			}
			s, err := h.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(s, "HISTF") {
				t.Errorf("encoding starts with %.8q, want HISTF", s)
			}
			d, err := Decode(s)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Equal(h) {
				t.Fatal("decoded histogram differs")
			}
			// A decoded histogram must merge into an engine one.
			if err := New().Merge(d); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	foreign, err := hdr.New(1, 60_000_000, 3).Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, in string
		is       error
	}{
		{"empty", "", nil},
		{"not base64", "HISTF!!!", nil},
		{"truncated", "HISTFAAAACB4nJNpmSzMwMDAxQABzFCaEUzzT7ID", nil},
		{"other geometry", string(foreign), ErrGeometry},
		{"too long", strings.Repeat("A", maxEncodedLen+4), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(tt.in)
			if err == nil {
				t.Fatal("Decode succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want %v", err, tt.is)
			}
		})
	}
}

// FuzzDecode feeds arbitrary text to the decoder: it must not panic, and
// whatever it accepts must survive an encode/decode round trip unchanged.
func FuzzDecode(f *testing.F) {
	h := New()
	for _, v := range series(100, 997*time.Microsecond) {
		h.Record(v)
	}
	for _, g := range []*Histogram{New(), h} {
		s, err := g.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s)
	}
	f.Add("HISTFAAAACB4nJNpmSzMwMDAxQABzFCaEUzzT7ID")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Decode(s)
		if err != nil {
			return
		}
		again, err := d.Encode()
		if err != nil {
			t.Fatalf("re-encode of an accepted histogram: %v", err)
		}
		d2, err := Decode(again)
		if err != nil {
			t.Fatalf("decode of our own encoding: %v", err)
		}
		if !d2.Equal(d) {
			t.Fatal("round trip changed the histogram")
		}
		_ = d.Percentile(99)
		_ = d.Max()
		_ = d.Mean()
	})
}

func series(n int, step time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(i+1) * step
	}
	return out
}

func within(t *testing.T, what string, got, want, tol time.Duration) {
	t.Helper()
	if d := got - want; d > tol || d < -tol {
		t.Errorf("%s = %v, want %v ± %v", what, got, want, tol)
	}
}

func BenchmarkRecord(b *testing.B) {
	h := New()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i&0xffff) * time.Microsecond)
	}
}

// Buckets cover every recorded value once, in order, each value within
// its bucket's bounds.
func TestBuckets(t *testing.T) {
	h := New()
	h.RecordN(100*time.Microsecond, 3)
	h.RecordN(2500*time.Microsecond, 2)
	h.Record(time.Second)
	bs := h.Buckets()
	if len(bs) != 3 {
		t.Fatalf("buckets %v", bs)
	}
	var n int64
	for i, b := range bs {
		n += b.Count
		if b.From > b.To || (i > 0 && b.From <= bs[i-1].To) {
			t.Errorf("bucket %d %v out of order", i, b)
		}
	}
	if n != h.Count() || bs[0].Count != 3 || bs[0].From > 100*time.Microsecond || bs[0].To < 100*time.Microsecond ||
		bs[2].From > time.Second || bs[2].To < time.Second || bs[2].To-bs[2].From > time.Second/1000 {
		t.Errorf("buckets %v", bs)
	}
	if len(New().Buckets()) != 0 {
		t.Error("an empty histogram has buckets")
	}
}
