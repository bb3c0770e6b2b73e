package load

import "time"

// clock is the run's time base: offsets from t0 on Go's monotonic clock,
// and t0 on CLOCK_MONOTONIC for the timerfd sleepers.
type clock struct {
	t0    time.Time
	mono0 int64
}

func newClock(lead time.Duration) *clock {
	m1 := monoNow()
	now := time.Now()
	m2 := monoNow()
	return &clock{t0: now.Add(lead), mono0: m1 + (m2-m1)/2 + int64(lead)}
}

func (c *clock) since() time.Duration { return time.Since(c.t0) }
