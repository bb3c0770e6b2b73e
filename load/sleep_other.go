//go:build !linux

package load

import "time"

// sleeper waits for due times with a Go timer; on Linux a timerfd makes the
// wake-ups finer (see sleep_linux.go).
type sleeper struct {
	clk   *clock
	timer *time.Timer
	done  <-chan struct{}
	// woke is the clock's reading when the last sleep returned true.
	woke time.Duration
}

func newSleeper(clk *clock, done <-chan struct{}) *sleeper {
	return &sleeper{clk: clk, done: done}
}

func (s *sleeper) sleep(due time.Duration) bool {
	d := due - s.clk.since()
	if d <= 0 {
		s.woke = s.clk.since()
		return true
	}
	if s.timer == nil {
		s.timer = time.NewTimer(d)
	} else {
		s.timer.Reset(d)
	}
	select {
	case <-s.timer.C:
		s.woke = s.clk.since()
		return true
	case <-s.done:
		s.timer.Stop()
		return false
	}
}

func (s *sleeper) wake() {}

func (s *sleeper) close() {
	if s.timer != nil {
		s.timer.Stop()
	}
}

func monoNow() int64 { return 0 }
