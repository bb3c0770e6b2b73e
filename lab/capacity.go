package lab

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/smp-project/smp/smprun"
	"github.com/smp-project/smp/stats"
)

// CapacityResult is a variant's capacity: the highest rate it sustained
// (actual rate within 3% of the requested, p99 under the objective,
// errors within the budget), in the bracket [Low, High): Low passed its
// search run and every confirmation run, High failed (0 when nothing up to
// the maximum failed). Steps are every run of the search, in order.
type CapacityResult struct {
	Variant   string         `json:"variant"`
	Capacity  float64        `json:"capacity"`
	Low       float64        `json:"low"`
	High      float64        `json:"high"`
	Confirmed int            `json:"confirmed"`
	Steps     []CapacityStep `json:"steps"`
	Note      string         `json:"note,omitempty"`
}

// CapacityStep is one run of a capacity search.
type CapacityStep struct {
	Rate      float64 `json:"rate"`
	ActualQPS float64 `json:"actual_qps"`
	P99Ms     float64 `json:"p99_ms"`
	ErrorsPct float64 `json:"errors_pct"`
	Pass      bool    `json:"pass"`
	Confirm   bool    `json:"confirm,omitempty"`
	Why       string  `json:"why,omitempty"`
}

// keepUp is how close the actual rate must come to the requested one for
// a rate to count as sustained.
const keepUp = 0.97

// maxSearchRuns bounds a search: doubling from start to max and bisecting
// to the tolerance take far fewer.
const maxSearchRuns = 40

func searchCapacity(ctx context.Context, e *Experiment, v *Variant, c *Capacity, logf func(string, ...any)) (*CapacityResult, error) {
	cr := &CapacityResult{Variant: v.Name}
	runs := 0
	try := func(rate float64, confirm bool) (bool, error) {
		if runs++; runs > maxSearchRuns {
			return false, fmt.Errorf("capacity of %s: more than %d runs", v.Name, maxSearchRuns)
		}
		cfg, err := config(e, v, rate, time.Duration(c.Duration))
		if err != nil {
			return false, err
		}
		_, r, err := smprun.Execute(ctx, cfg, smprun.PlanOptions{}, smprun.ResultOptions{Generator: smprun.ThisGenerator()})
		if err != nil {
			return false, fmt.Errorf("capacity of %s at %g/s: %w", v.Name, rate, err)
		}
		st := CapacityStep{Rate: rate, ActualQPS: r.GetActualQps(), Confirm: confirm}
		st.ErrorsPct, _ = stats.Value(r, stats.Errors)
		p99, ok := stats.Value(r, stats.P99)
		st.P99Ms = p99
		limit := float64(time.Duration(c.P99)) / float64(time.Millisecond)
		switch {
		case r.GetPartial():
			st.Why = "partial: " + r.GetPartialReason()
		case st.ActualQPS < keepUp*rate:
			st.Why = fmt.Sprintf("sent %.1f/s of %g/s", st.ActualQPS, rate)
		case !ok:
			st.Why = "no successful requests"
		case p99 >= limit:
			st.Why = fmt.Sprintf("p99 %s ms ≥ %s ms", stats.FormatValue(p99), stats.FormatValue(limit))
		case st.ErrorsPct > c.Errors:
			st.Why = fmt.Sprintf("errors %.2f%% > %g%%", st.ErrorsPct, c.Errors)
		default:
			st.Pass = true
		}
		cr.Steps = append(cr.Steps, st)
		verdict := "pass"
		if !st.Pass {
			verdict = "fail: " + st.Why
		}
		logf("  %s at %g/s: %s", v.Name, rate, verdict)
		return st.Pass, ctx.Err()
	}

	lo, hi := 0.0, math.Inf(1)
	// Bracket: double from start until a rate fails or max passes.
	for r := c.Start; ; r = math.Min(2*r, c.Max) {
		ok, err := try(r, false)
		if err != nil {
			return cr, err
		}
		if !ok {
			hi = r
			break
		}
		lo = r
		if r >= c.Max {
			break
		}
	}
	// Bisect to the tolerance.
	for !math.IsInf(hi, 1) && lo > 0 && (hi-lo) > c.Tolerance*lo {
		mid := (lo + hi) / 2
		ok, err := try(mid, false)
		if err != nil {
			return cr, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		// Even the first rate failed: bisect below it.
		for r := c.Start / 2; r >= c.Start/64; r /= 2 {
			ok, err := try(r, false)
			if err != nil {
				return cr, err
			}
			if ok {
				lo = r
				break
			}
			hi = r
		}
		if lo == 0 {
			cr.High, cr.Note = hi, fmt.Sprintf("no rate down to %g/s was sustained", hi)
			return cr, nil
		}
	}
	// Confirm: every confirmation run at the answer must pass; a failure
	// moves the answer down by the tolerance and starts again.
	for backoff := 0; backoff < 5; backoff++ {
		passed := 0
		for range c.Confirm {
			ok, err := try(lo, true)
			if err != nil {
				return cr, err
			}
			if !ok {
				break
			}
			passed++
		}
		if passed == c.Confirm {
			cr.Capacity, cr.Low, cr.Confirmed = lo, lo, passed
			if !math.IsInf(hi, 1) {
				cr.High = hi
			} else {
				cr.Note = fmt.Sprintf("sustained the maximum searched (%g/s): the capacity is at least that", c.Max)
			}
			return cr, nil
		}
		hi, lo = lo, lo*(1-c.Tolerance)
	}
	cr.Note = "no rate held through its confirmation runs"
	return cr, nil
}
