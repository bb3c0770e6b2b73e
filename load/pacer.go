package load

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"
)

// A Pacer is the schedule of an open-loop run: when each request is due.
// Slots are numbered from 0 across the whole schedule — every worker and,
// in a distributed run, every generator (see Share) — so that the union of
// all senders is one even schedule.
//
// Due must be non-decreasing in i. It is called once per request from
// many goroutines at once, so it must be safe for concurrent use and should
// not allocate.
type Pacer interface {
	// Due returns when slot i is due, as an offset from the start of the
	// schedule. ok is false when the schedule has ended before slot i; it
	// then stays false for every later slot. Due returns Unscheduled for a
	// closed-loop pacer.
	Due(i uint64) (due time.Duration, ok bool)
	// Rate returns the requested rate at offset t, in requests per second
	// (0 for a closed loop).
	Rate(t time.Duration) float64
	// String describes the schedule for people ("2000/s", "ramp 0/s to
	// 1000/s over 30s").
	String() string
}

// Unscheduled is the due time of a closed-loop request: it is due when it is
// sent, so its corrected and uncorrected latency are the same.
const Unscheduled = time.Duration(math.MinInt64)

// ClosedLoop returns the pacer of a closed-loop run: no schedule; each
// worker sends its next request as soon as the previous one completes.
func ClosedLoop() Pacer { return closedLoop{} }

type closedLoop struct{}

func (closedLoop) Due(uint64) (time.Duration, bool) { return Unscheduled, true }
func (closedLoop) Rate(time.Duration) float64       { return 0 }
func (closedLoop) String() string                   { return "closed loop" }

// IsClosedLoop reports whether p schedules nothing (nil or a closed loop):
// requests go as fast as the connections answer.
func IsClosedLoop(p Pacer) bool { return isClosed(p) }

// isClosed reports whether p schedules nothing.
func isClosed(p Pacer) bool {
	if p == nil {
		return true
	}
	d, _ := p.Due(0)
	return d == Unscheduled
}

// maxRate bounds the rates pacers accept: beyond it slot times would be
// finer than the nanosecond clock.
const maxRate = 1e9

func checkRate(what string, r float64) error {
	if math.IsNaN(r) || math.IsInf(r, 0) || r < 0 || r > maxRate {
		return fmt.Errorf("%w: %s %v is not a rate between 0 and %g requests/s", ErrInvalid, what, r, maxRate)
	}
	return nil
}

// seconds converts a float number of seconds to a Duration, saturating
// instead of overflowing.
func seconds(s float64) time.Duration {
	ns := s * 1e9
	if ns >= math.MaxInt64 {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(ns)
}

// Constant is a fixed rate: slot i is due at i/rate.
type Constant struct {
	rate float64
}

// NewConstant returns a constant-rate pacer of rate requests per second
// (across every worker and generator).
func NewConstant(rate float64) (*Constant, error) {
	if err := checkRate("rate", rate); err != nil {
		return nil, err
	}
	if rate == 0 {
		return nil, fmt.Errorf("%w: a constant rate must be positive (use the closed loop for as fast as possible)", ErrInvalid)
	}
	return &Constant{rate: rate}, nil
}

// Due implements Pacer.
func (c *Constant) Due(i uint64) (time.Duration, bool) {
	return seconds(float64(i) / c.rate), true
}

// Rate implements Pacer.
func (c *Constant) Rate(time.Duration) float64 { return c.rate }

func (c *Constant) String() string { return rateString(c.rate) + "/s" }

// rateString writes a rate for people: whole numbers in full (200000000,
// not 2e+08), fractions with the digits they need.
func rateString(r float64) string { return strconv.FormatFloat(r, 'f', -1, 64) }

// LinearRamp changes the rate linearly from From to To over Over, then holds
// To. Ramping to 0 ends the schedule at the end of the ramp.
type LinearRamp struct {
	from, to float64
	over     time.Duration
	// derived: a is half the acceleration (rate change per second, /2);
	// n1 is the number of slots in the ramp.
	a, n1, overS float64
}

// NewLinearRamp returns a pacer whose rate goes linearly from from to to
// (requests per second) over the given time.
func NewLinearRamp(from, to float64, over time.Duration) (*LinearRamp, error) {
	if err := checkRate("ramp start rate", from); err != nil {
		return nil, err
	}
	if err := checkRate("ramp end rate", to); err != nil {
		return nil, err
	}
	if over <= 0 {
		return nil, fmt.Errorf("%w: a ramp needs a positive duration, got %v", ErrInvalid, over)
	}
	if from == 0 && to == 0 {
		return nil, fmt.Errorf("%w: a ramp from 0/s to 0/s sends nothing", ErrInvalid)
	}
	s := over.Seconds()
	return &LinearRamp{from: from, to: to, over: over, overS: s,
		a: (to - from) / (2 * s), n1: (from + to) / 2 * s}, nil
}

// Due implements Pacer. During the ramp the cumulative count is
// N(t) = from·t + a·t², so slot i is due at the root of a·t² + from·t − i,
// computed in the form that stays accurate when a is near 0.
func (r *LinearRamp) Due(i uint64) (time.Duration, bool) {
	n := float64(i)
	if n < r.n1 {
		disc := r.from*r.from + 4*r.a*n
		if disc < 0 {
			disc = 0
		}
		den := r.from + math.Sqrt(disc)
		if den <= 0 {
			return 0, true
		}
		return seconds(2 * n / den), true
	}
	if r.to == 0 {
		return 0, false
	}
	return seconds(r.overS + (n-r.n1)/r.to), true
}

// Rate implements Pacer.
func (r *LinearRamp) Rate(t time.Duration) float64 {
	if t >= r.over {
		return r.to
	}
	if t < 0 {
		return r.from
	}
	return r.from + (r.to-r.from)*t.Seconds()/r.overS
}

func (r *LinearRamp) String() string {
	return fmt.Sprintf("ramp %s/s to %s/s over %v", rateString(r.from), rateString(r.to), r.over)
}

// Step is one stage of a Steps schedule.
type Step struct {
	Rate float64 // requests per second; 0 pauses
	// Duration of the step; 0 on the last step holds its rate for ever.
	Duration time.Duration
}

// Steps is a piecewise-constant rate: each step's rate for its duration.
// The schedule ends after the last step unless that step's duration is 0.
type Steps struct {
	steps []Step
	// startN[s] and startS[s] are the slot count and time (s) at which
	// step s begins.
	startN, startS []float64
}

// NewSteps returns a stepped pacer.
func NewSteps(steps []Step) (*Steps, error) {
	if len(steps) == 0 {
		return nil, fmt.Errorf("%w: a stepped schedule needs at least one step", ErrInvalid)
	}
	p := &Steps{steps: append([]Step(nil), steps...)}
	var n, s float64
	for i, st := range steps {
		if err := checkRate(fmt.Sprintf("step %d rate", i+1), st.Rate); err != nil {
			return nil, err
		}
		last := i == len(steps)-1
		if st.Duration < 0 || (st.Duration == 0 && !last) {
			return nil, fmt.Errorf("%w: step %d needs a positive duration, got %v", ErrInvalid, i+1, st.Duration)
		}
		p.startN = append(p.startN, n)
		p.startS = append(p.startS, s)
		n += st.Rate * st.Duration.Seconds()
		s += st.Duration.Seconds()
	}
	p.startN = append(p.startN, n)
	p.startS = append(p.startS, s)
	return p, nil
}

// Due implements Pacer.
func (p *Steps) Due(i uint64) (time.Duration, bool) {
	n := float64(i)
	last := len(p.steps) - 1
	// The step holding slot i is the last one that starts at or before it
	// and has room for it; zero-rate steps hold no slot.
	s := sort.Search(len(p.steps), func(s int) bool { return p.startN[s+1] > n }) // first step ending after n
	if s > last {
		if p.steps[last].Duration == 0 && p.steps[last].Rate > 0 {
			s = last
		} else {
			return 0, false
		}
	}
	for s <= last && p.steps[s].Rate == 0 {
		s++
	}
	if s > last {
		return 0, false
	}
	return seconds(p.startS[s] + (n-p.startN[s])/p.steps[s].Rate), true
}

// Rate implements Pacer.
func (p *Steps) Rate(t time.Duration) float64 {
	ts := t.Seconds()
	for s := range p.steps {
		if p.steps[s].Duration == 0 || ts < p.startS[s+1] {
			return p.steps[s].Rate
		}
	}
	return 0
}

func (p *Steps) String() string {
	out := "steps"
	for _, s := range p.steps {
		if s.Duration == 0 {
			out += " " + rateString(s.Rate) + "/s"
		} else {
			out += fmt.Sprintf(" %s/s×%v", rateString(s.Rate), s.Duration)
		}
	}
	return out
}

// slotsBefore returns the number of slots of p due before t: the smallest i
// with Due(i) >= t (or with no slot i). Due is non-decreasing, so an
// exponential then a binary search finds it in O(log i) calls.
func slotsBefore(p Pacer, t time.Duration) uint64 {
	before := func(i uint64) bool {
		d, ok := p.Due(i)
		return ok && d < t
	}
	if !before(0) {
		return 0
	}
	lo, hi := uint64(0), uint64(1) // before(lo) holds
	for before(hi) {
		lo = hi
		if hi >= 1<<62 {
			return hi
		}
		hi *= 2
	}
	// Invariant: before(lo) and !before(hi).
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if before(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}
