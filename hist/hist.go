// Package hist wraps HdrHistogram for latency recording. Every histogram in
// smp has the same geometry — microseconds, 1 µs to 1 h, 3 significant
// digits — because HdrHistogram's merge silently drops values outside the
// receiver's range: identical bounds everywhere (workers, clients, runs,
// agents, files) make every merge exact.
//
// A Histogram is not safe for concurrent use; callers keep one per goroutine
// or guard it with a lock.
package hist

import (
	"errors"
	"fmt"
	"math"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// The geometry of every smp histogram.
const (
	// Lowest is the lowest discernible value, in microseconds.
	Lowest int64 = 1
	// Highest is the highest trackable value, in microseconds (1 h).
	Highest int64 = 3600 * 1000 * 1000
	// SignificantDigits is the value precision: 3 digits keeps the
	// quantisation error under 0.1%.
	SignificantDigits = 3
	// Unit names the unit of recorded values, as written in results.
	Unit = "us"
	// Encoding names the serialised form produced by Encode: HdrHistogram's
	// V2 compressed encoding in base64 ("HISTF..."), which the Java, C and
	// Go HdrHistogram libraries all read.
	Encoding = "hdr-v2"
)

// ErrGeometry reports a histogram whose bounds or precision differ from
// smp's; merging it would silently drop or distort values.
var ErrGeometry = errors.New("histogram geometry differs from smp's (1 µs .. 1 h, 3 significant digits)")

// Histogram records durations with microsecond resolution.
type Histogram struct {
	h *hdr.Histogram
	// saturated counts values above Highest, recorded as Highest: they are
	// kept (so counts stay right) but their true value is lost.
	saturated int64
}

// New returns an empty histogram with smp's geometry. It allocates about
// 190 KB (the counts array), so the engine shares histograms between
// workers through locks rather than giving thousands of connections one
// each.
func New() *Histogram {
	return &Histogram{h: hdr.New(Lowest, Highest, SignificantDigits)}
}

// Record adds one duration. Values are rounded to the nearest microsecond;
// negative durations record as 0 and durations beyond 1 h as 1 h (counted
// by Saturated), so Record never fails and never drops a sample.
func (h *Histogram) Record(d time.Duration) {
	h.RecordN(d, 1)
}

// RecordN adds n occurrences of one duration (n <= 0 records nothing).
func (h *Histogram) RecordN(d time.Duration, n int64) {
	if n <= 0 {
		return
	}
	us := int64(0)
	if d > 0 {
		us = int64((d + time.Microsecond/2) / time.Microsecond)
	}
	if us > Highest {
		us = Highest
		h.saturated += n
	}
	// Cannot fail: the value is in range and n > 0; only a total count past
	// MaxInt64 would be refused, which no run reaches.
	_ = h.h.RecordValues(us, n)
}

// Count returns the number of recorded values.
func (h *Histogram) Count() int64 { return h.h.TotalCount() }

// Saturated returns how many recorded values exceeded 1 h and were clamped.
func (h *Histogram) Saturated() int64 { return h.saturated }

// Percentile returns the value at percentile p (0..100) by the nearest-rank
// rule, as HdrHistogram Java and JS compute it: the value at rank
// ceil(p/100·N) (at least 1) of the N recorded values, reported as the
// highest value equivalent (within the precision) to it; p = 0 gives the
// lowest equivalent value of the smallest recorded value. It returns 0 for
// an empty histogram. It does not allocate.
func (h *Histogram) Percentile(p float64) time.Duration {
	n := h.Count()
	if n == 0 {
		return 0
	}
	return us(h.h.ValueAtPercentile(libPercentile(p, n)))
}

// Percentiles returns the values at several percentiles in one pass over
// the counts, by the same rule as Percentile.
func (h *Histogram) Percentiles(ps []float64) []time.Duration {
	out := make([]time.Duration, len(ps))
	n := h.Count()
	if n == 0 {
		return out
	}
	lib := make([]float64, len(ps))
	for i, p := range ps {
		lib[i] = libPercentile(p, n)
	}
	for i, v := range h.h.ValueAtPercentilesSlice(lib) {
		out[i] = us(v)
	}
	return out
}

// Rank returns the 1-based rank of the value at percentile p among n
// values by the nearest-rank rule: ceil(p/100·n), at least 1 and at most
// n. The arithmetic is HdrHistogram Java's and JS's to the bit (the
// product, then one ulp off before rounding up, so that 99% of 200 is 198
// and not 199), so that smp and those libraries pick the same bucket.
func Rank(p float64, n int64) int64 {
	if n <= 0 {
		return 0
	}
	if !(p > 0) { // 0, negative and NaN: the first value
		return 1
	}
	p = math.Min(p, 100)
	f := p / 100 * float64(n)
	ulp := math.Nextafter(f, math.Inf(1)) - f
	k := math.Ceil(f - ulp)
	switch {
	case k < 1:
		return 1
	case k >= float64(n):
		return n
	}
	return int64(k)
}

// libPercentile translates percentile p of n values into the percentile
// hdrhistogram-go must be asked for to land on the nearest rank: that
// library takes rank round(p/100·n), and 100·k/n rounds back to k exactly
// (the float error is far below 0.5 for any count a run reaches). The
// library then walks its counts to the bucket holding that rank and reports
// the bucket's highest equivalent value, or its lowest for percentile 0,
// which is kept as 0 here.
func libPercentile(p float64, n int64) float64 {
	if !(p > 0) {
		return 0
	}
	return 100 * float64(Rank(p, n)) / float64(n)
}

// Min returns the smallest recorded value (within the precision), 0 when
// empty.
func (h *Histogram) Min() time.Duration {
	if h.Count() == 0 {
		return 0
	}
	return us(h.h.Min())
}

// Max returns the largest recorded value (within the precision), 0 when
// empty.
func (h *Histogram) Max() time.Duration {
	if h.Count() == 0 {
		return 0
	}
	return us(h.h.Max())
}

// Mean returns the mean of the recorded values, 0 when empty.
func (h *Histogram) Mean() time.Duration {
	return time.Duration(h.h.Mean() * float64(time.Microsecond))
}

// StdDev returns the standard deviation of the recorded values.
func (h *Histogram) StdDev() time.Duration {
	return time.Duration(h.h.StdDev() * float64(time.Microsecond))
}

// Bucket is one non-empty bucket of a histogram: Count values from From
// to To, both included (values are kept to the microsecond, so To is the
// last microsecond of the bucket).
type Bucket struct {
	From, To time.Duration
	Count    int64
}

// Buckets returns the non-empty buckets in value order, for charts and
// for other tools' bucket lists. The walk covers every bucket of smp's
// geometry, about 23,500.
func (h *Histogram) Buckets() []Bucket {
	var out []Bucket
	for _, b := range h.h.Distribution() {
		if b.Count > 0 {
			out = append(out, Bucket{From: us(b.From), To: us(b.To), Count: b.Count})
		}
	}
	return out
}

// Merge adds every value of from into h. Both histograms must have smp's
// geometry (always true for histograms from New and Decode); a value that
// would be dropped is reported as an error rather than lost silently.
func (h *Histogram) Merge(from *Histogram) error {
	if err := checkGeometry(from.h); err != nil {
		return err
	}
	if from.Count() == 0 {
		return nil // the engine merges many empty interval histograms
	}
	if dropped := h.h.Merge(from.h); dropped != 0 {
		return fmt.Errorf("merge dropped %d values", dropped)
	}
	h.saturated += from.saturated
	return nil
}

// Reset empties the histogram, keeping its memory.
func (h *Histogram) Reset() {
	if h.Count() != 0 {
		h.h.Reset()
	}
	h.saturated = 0
}

// Clone returns an independent copy.
func (h *Histogram) Clone() *Histogram {
	return &Histogram{h: h.h.Clone(), saturated: h.saturated}
}

// Equal reports whether both histograms hold the same counts.
func (h *Histogram) Equal(o *Histogram) bool { return h.h.Equals(o.h) }

// Encode returns the histogram in the "hdr-v2" encoding: base64 of
// HdrHistogram's V2 compressed form, starting with "HISTF".
func (h *Histogram) Encode() (string, error) {
	b, err := h.h.Encode(hdr.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", fmt.Errorf("encode histogram: %w", err)
	}
	return string(b), nil
}

// maxEncodedLen bounds what Decode accepts. A full smp histogram (every
// one of its ~23,500 counters non-zero and large) compresses to well under
// 1 MiB; anything bigger is not ours and would only cost memory.
const maxEncodedLen = 4 << 20

// Decode parses the "hdr-v2" encoding. It accepts only smp's geometry
// (ErrGeometry otherwise), so a decoded histogram can always be merged
// with the engine's.
func Decode(s string) (*Histogram, error) {
	if len(s) > maxEncodedLen {
		return nil, fmt.Errorf("decode histogram: %d bytes is more than the %d accepted", len(s), maxEncodedLen)
	}
	h, err := hdr.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	if err := checkGeometry(h); err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	return &Histogram{h: h}, nil
}

func checkGeometry(h *hdr.Histogram) error {
	if h.LowestTrackableValue() != Lowest || h.HighestTrackableValue() != Highest ||
		h.SignificantFigures() != SignificantDigits {
		return fmt.Errorf("%w: got %d .. %d us, %d digits", ErrGeometry,
			h.LowestTrackableValue(), h.HighestTrackableValue(), h.SignificantFigures())
	}
	return nil
}

// us converts a recorded microsecond value to a Duration.
func us(v int64) time.Duration {
	if v > math.MaxInt64/int64(time.Microsecond) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(v) * time.Microsecond
}

// MarshalText encodes the histogram as Encode does, so that a histogram
// travels in JSON (between an agent and its coordinator) as its hdr-v2
// string.
func (h *Histogram) MarshalText() ([]byte, error) {
	s, err := h.Encode()
	return []byte(s), err
}

// UnmarshalText decodes what MarshalText wrote.
func (h *Histogram) UnmarshalText(b []byte) error {
	d, err := Decode(string(b))
	if err != nil {
		return err
	}
	*h = *d
	return nil
}
