package target

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxDelay bounds every configured and every sampled delay. A workload
// server that sleeps for days is a typo, not an experiment, and the bound
// keeps a heavy-tailed distribution from parking requests for ever.
const MaxDelay = time.Hour

// maxSteps bounds a weighted list, so that parsing a per-request override
// stays cheap whatever a client sends.
const maxSteps = 64

// z99 is the 0.99 quantile of the standard normal distribution: a lognormal
// with median m and 99th percentile p has sigma = ln(p/m)/z99.
const z99 = 2.3263478740408408

// delaySyntax is quoted in every parse error so that the message says what
// is allowed, not only what was wrong.
const delaySyntax = "a Go duration (2ms), uniform:MIN-MAX, exp:MEAN, lognormal:MEDIAN,P99 or a weighted list D:W,D:W (1ms:90,50ms:10)"

type delayKind uint8

const (
	delayNone delayKind = iota
	delayFixed
	delayUniform
	delayExp
	delayLognormal
	delayWeighted
)

// Delay is a response delay: none, a fixed duration, or a distribution that
// is sampled once per response. The zero Delay means no delay. A Delay is
// immutable once built and safe for concurrent use.
type Delay struct {
	kind delayKind
	// a and b are the parameters as written: fixed a; uniform [a, b];
	// exponential mean a; lognormal median a and 99th percentile b.
	a, b time.Duration
	// mu and sigma are the lognormal parameters of ln(delay in ns).
	mu, sigma float64
	// steps is the weighted list, sorted by duration, with cumulative
	// weights in cum.
	steps []step
}

type step struct {
	d   time.Duration
	w   float64 // weight as written
	cum float64 // sum of weights up to and including this step
}

// FixedDelay returns a Delay of exactly d (clamped to [0, MaxDelay]).
func FixedDelay(d time.Duration) Delay {
	if d <= 0 {
		return Delay{}
	}
	return Delay{kind: delayFixed, a: min(d, MaxDelay)}
}

// ParseDelay parses the delay syntax shared by flags, query parameters,
// headers and gRPC metadata:
//
//	""  or "0"                  no delay
//	2ms                         fixed (any Go duration: 250us, 1.5s)
//	fixed:2ms                   the same, spelled out
//	uniform:1ms-3ms             uniform between the two bounds
//	exp:2ms                     exponential with mean 2ms
//	lognormal:2ms,10ms          lognormal with median 2ms and p99 10ms
//	1ms:90,50ms:10              weighted list: 1ms with weight 90, 50ms with 10
//
// Durations must lie in [0, MaxDelay]; weights must be positive numbers and
// need not add up to 100.
func ParseDelay(s string) (Delay, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return Delay{}, nil
	}
	name, rest, hasColon := strings.Cut(s, ":")
	if !hasColon {
		d, err := parseDuration(s)
		if err != nil {
			return Delay{}, delayError(s, err)
		}
		return FixedDelay(d), nil
	}
	var (
		d   Delay
		err error
	)
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "fixed":
		var v time.Duration
		v, err = parseDuration(rest)
		d = FixedDelay(v)
	case "uniform":
		d, err = parseUniform(rest)
	case "exp", "exponential":
		d, err = parseExp(rest)
	case "lognormal":
		d, err = parseLognormal(rest)
	default:
		// Not a distribution name: a weighted list starts with a duration.
		if _, derr := parseDuration(name); derr != nil {
			return Delay{}, fmt.Errorf("invalid delay %q: unknown distribution %q (allowed: fixed, uniform, exp, lognormal, or a weighted list D:W,...); a delay is %s", s, name, delaySyntax)
		}
		d, err = parseWeighted(s)
	}
	if err != nil {
		return Delay{}, delayError(s, err)
	}
	return d, nil
}

func delayError(s string, err error) error {
	return fmt.Errorf("invalid delay %q: %w; a delay is %s", s, err, delaySyntax)
}

// parseDuration is time.ParseDuration with the target's bounds and messages
// that name the problem in the user's terms.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("missing duration")
	}
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
			return 0, fmt.Errorf("duration %q has no unit (write e.g. %sms)", s, s)
		}
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	if d > MaxDelay {
		return 0, fmt.Errorf("duration %q is longer than %v", s, MaxDelay)
	}
	return d, nil
}

func parseUniform(s string) (Delay, error) {
	lo, hi, ok := strings.Cut(s, "-")
	if !ok {
		return Delay{}, fmt.Errorf("uniform needs MIN-MAX, e.g. uniform:1ms-3ms")
	}
	a, err := parseDuration(lo)
	if err != nil {
		return Delay{}, fmt.Errorf("uniform minimum: %w", err)
	}
	b, err := parseDuration(hi)
	if err != nil {
		return Delay{}, fmt.Errorf("uniform maximum: %w", err)
	}
	if b < a {
		return Delay{}, fmt.Errorf("uniform maximum %v is below the minimum %v", b, a)
	}
	if a == b {
		return FixedDelay(a), nil
	}
	return Delay{kind: delayUniform, a: a, b: b}, nil
}

func parseExp(s string) (Delay, error) {
	m, err := parseDuration(s)
	if err != nil {
		return Delay{}, fmt.Errorf("exponential mean: %w", err)
	}
	if m == 0 {
		return Delay{}, nil
	}
	return Delay{kind: delayExp, a: m}, nil
}

func parseLognormal(s string) (Delay, error) {
	ms, ps, ok := strings.Cut(s, ",")
	if !ok {
		return Delay{}, fmt.Errorf("lognormal needs MEDIAN,P99, e.g. lognormal:2ms,10ms")
	}
	m, err := parseDuration(ms)
	if err != nil {
		return Delay{}, fmt.Errorf("lognormal median: %w", err)
	}
	p, err := parseDuration(ps)
	if err != nil {
		return Delay{}, fmt.Errorf("lognormal p99: %w", err)
	}
	if m <= 0 {
		return Delay{}, fmt.Errorf("lognormal median must be positive")
	}
	if p < m {
		return Delay{}, fmt.Errorf("lognormal p99 %v is below the median %v", p, m)
	}
	if p == m {
		return FixedDelay(m), nil
	}
	return Delay{
		kind:  delayLognormal,
		a:     m,
		b:     p,
		mu:    math.Log(float64(m)),
		sigma: math.Log(float64(p)/float64(m)) / z99,
	}, nil
}

func parseWeighted(s string) (Delay, error) {
	parts := strings.Split(s, ",")
	if len(parts) > maxSteps {
		return Delay{}, fmt.Errorf("weighted list has %d entries, at most %d allowed", len(parts), maxSteps)
	}
	steps := make([]step, 0, len(parts))
	for _, p := range parts {
		ds, ws, ok := strings.Cut(p, ":")
		if !ok {
			return Delay{}, fmt.Errorf("weighted entry %q needs DURATION:WEIGHT", strings.TrimSpace(p))
		}
		d, err := parseDuration(ds)
		if err != nil {
			return Delay{}, fmt.Errorf("weighted entry %q: %w", strings.TrimSpace(p), err)
		}
		w, err := strconv.ParseFloat(strings.TrimSpace(ws), 64)
		if err != nil || math.IsNaN(w) || math.IsInf(w, 0) || w <= 0 {
			return Delay{}, fmt.Errorf("weighted entry %q: weight must be a positive number", strings.TrimSpace(p))
		}
		steps = append(steps, step{d: d, w: w})
	}
	// Sorted by duration so that Quantile can walk the cumulative weights;
	// sampling does not care about the order.
	slices.SortStableFunc(steps, func(x, y step) int {
		switch {
		case x.d < y.d:
			return -1
		case x.d > y.d:
			return 1
		}
		return 0
	})
	var cum float64
	for i := range steps {
		cum += steps[i].w
		steps[i].cum = cum
	}
	if math.IsInf(cum, 0) {
		return Delay{}, fmt.Errorf("weights add up to more than a float64 holds")
	}
	if len(steps) == 1 {
		return FixedDelay(steps[0].d), nil
	}
	return Delay{kind: delayWeighted, steps: steps}, nil
}

// IsZero reports whether the Delay is no delay at all.
func (d Delay) IsZero() bool { return d.kind == delayNone }

// Sample draws one delay. r may be nil, in which case the runtime's
// goroutine-safe generator is used; tests pass a seeded *rand.Rand.
func (d Delay) Sample(r *rand.Rand) time.Duration {
	switch d.kind {
	case delayNone:
		return 0
	case delayFixed:
		return d.a
	case delayUniform:
		return d.a + time.Duration(uniform(r)*float64(d.b-d.a))
	case delayExp:
		var e float64
		if r != nil {
			e = r.ExpFloat64()
		} else {
			e = rand.ExpFloat64()
		}
		return clampDelay(e * float64(d.a))
	case delayLognormal:
		var n float64
		if r != nil {
			n = r.NormFloat64()
		} else {
			n = rand.NormFloat64()
		}
		return clampDelay(math.Exp(d.mu + d.sigma*n))
	case delayWeighted:
		x := uniform(r) * d.steps[len(d.steps)-1].cum
		i, _ := slices.BinarySearchFunc(d.steps, x, func(s step, x float64) int {
			if s.cum <= x {
				return -1
			}
			return 1
		})
		return d.steps[min(i, len(d.steps)-1)].d
	}
	return 0
}

func uniform(r *rand.Rand) float64 {
	if r != nil {
		return r.Float64()
	}
	return rand.Float64()
}

// clampDelay converts nanoseconds to a Duration within [0, MaxDelay]; the
// float may be far beyond int64 for a heavy tail.
func clampDelay(ns float64) time.Duration {
	if !(ns > 0) {
		return 0
	}
	if ns >= float64(MaxDelay) {
		return MaxDelay
	}
	return time.Duration(ns)
}

// Quantile returns the q-quantile (0 < q < 1) of the configured
// distribution, the figure a test compares a sampled percentile with.
func (d Delay) Quantile(q float64) time.Duration {
	q = math.Min(math.Max(q, 0), 1)
	switch d.kind {
	case delayFixed:
		return d.a
	case delayUniform:
		return d.a + time.Duration(q*float64(d.b-d.a))
	case delayExp:
		return clampDelay(-math.Log1p(-q) * float64(d.a))
	case delayLognormal:
		z := math.Sqrt2 * math.Erfinv(2*q-1)
		return clampDelay(math.Exp(d.mu + d.sigma*z))
	case delayWeighted:
		x := q * d.steps[len(d.steps)-1].cum
		for _, s := range d.steps {
			if s.cum >= x {
				return s.d
			}
		}
		return d.steps[len(d.steps)-1].d
	}
	return 0
}

// String returns the delay in the syntax ParseDelay reads.
func (d Delay) String() string {
	switch d.kind {
	case delayFixed:
		return d.a.String()
	case delayUniform:
		return "uniform:" + d.a.String() + "-" + d.b.String()
	case delayExp:
		return "exp:" + d.a.String()
	case delayLognormal:
		return "lognormal:" + d.a.String() + "," + d.b.String()
	case delayWeighted:
		var sb strings.Builder
		for i, s := range d.steps {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(s.d.String())
			sb.WriteByte(':')
			sb.WriteString(strconv.FormatFloat(s.w, 'g', -1, 64))
		}
		return sb.String()
	}
	return "0"
}

// MarshalText writes the ParseDelay syntax, so that a Delay reads and writes
// naturally in JSON and YAML documents.
func (d Delay) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads the ParseDelay syntax.
func (d *Delay) UnmarshalText(b []byte) error {
	v, err := ParseDelay(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
