package load

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseRamp reads a linear ramp as --ramp takes it: "FROM:TO/DURATION",
// e.g. "100:2000/30s" (rates in requests per second, fractions allowed).
func ParseRamp(s string) (*LinearRamp, error) {
	rates, over, err := splitSchedule(s, "FROM:TO/DURATION, e.g. 100:2000/30s")
	if err != nil {
		return nil, err
	}
	from, to, ok := strings.Cut(rates, ":")
	if !ok {
		return nil, fmt.Errorf("%w: ramp %q: want FROM:TO/DURATION, e.g. 100:2000/30s", ErrInvalid, s)
	}
	a, err := parseRate(from)
	if err != nil {
		return nil, fmt.Errorf("%w: ramp %q: start rate %v", ErrInvalid, s, err)
	}
	b, err := parseRate(to)
	if err != nil {
		return nil, fmt.Errorf("%w: ramp %q: end rate %v", ErrInvalid, s, err)
	}
	return NewLinearRamp(a, b, over)
}

// ParseSteps reads stepped rates as --steps takes them: "R1,R2,.../STEP",
// e.g. "500,1000,2000/20s": each rate held for STEP, then the schedule ends.
func ParseSteps(s string) (*Steps, error) {
	rates, step, err := splitSchedule(s, "R1,R2,.../STEP, e.g. 500,1000,2000/20s")
	if err != nil {
		return nil, err
	}
	var steps []Step
	for i, r := range strings.Split(rates, ",") {
		v, err := parseRate(r)
		if err != nil {
			return nil, fmt.Errorf("%w: steps %q: rate %d %v", ErrInvalid, s, i+1, err)
		}
		steps = append(steps, Step{Rate: v, Duration: step})
	}
	return NewSteps(steps)
}

func splitSchedule(s, want string) (rates string, d time.Duration, err error) {
	rates, dur, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok || strings.TrimSpace(rates) == "" {
		return "", 0, fmt.Errorf("%w: %q: want %s", ErrInvalid, s, want)
	}
	d, err = time.ParseDuration(strings.TrimSpace(dur))
	if err != nil || d <= 0 {
		return "", 0, fmt.Errorf("%w: %q: %q is not a positive duration such as 30s; want %s", ErrInvalid, s, dur, want)
	}
	return rates, d, nil
}

func parseRate(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "/s")), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, fmt.Errorf("%q is not a rate: want a number ≥ 0 of requests per second", s)
	}
	return v, nil
}

// Length is how long a schedule lasts when it ends by itself (a ramp to
// 0, steps), and false when it goes on for ever (it holds a rate).
func Length(p Pacer) (time.Duration, bool) {
	switch p := p.(type) {
	case *LinearRamp:
		if p.to == 0 {
			return p.over, true
		}
	case *Steps:
		if last := p.steps[len(p.steps)-1]; last.Duration > 0 {
			return time.Duration(p.startS[len(p.steps)] * float64(time.Second)), true
		}
	}
	return 0, false
}

// CountWindow is the measured window, after a warm-up of warm, that holds
// exactly n slots of p: from warm to when slot n+1 of the window falls due.
// It is false when the schedule ends before.
func CountWindow(p Pacer, warm time.Duration, n int64) (time.Duration, bool) {
	if n <= 0 || isClosed(p) {
		return 0, false
	}
	due, ok := p.Due(slotsBefore(p, warm) + uint64(n))
	if !ok {
		return 0, false
	}
	return max(due-warm, time.Nanosecond), true
}

// Over is how long the ramp takes.
func (r *LinearRamp) Over() time.Duration { return r.over }
