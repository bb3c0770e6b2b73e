//go:build !linux

package target

import "time"

// delayClock waits out response delays on Go timers; on Linux a timerfd
// makes them finer (see sleep_linux.go).
type delayClock struct{ pool sleeperPool }

// clockWait is empty: Go timers need nothing beyond sleeper.t.
type clockWait struct{}

func newDelayClock() *delayClock { return &delayClock{} }

func (c *delayClock) wait(d time.Duration, cancel, done <-chan struct{}, sl *sleeper) bool {
	return sl.sleepTimer(d, cancel, done)
}

func (c *delayClock) close() {}
