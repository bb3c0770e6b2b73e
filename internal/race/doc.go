// Package race tells whether the race detector is on. Timing-sensitive
// accuracy tests skip under it: it slows every request several-fold, and
// ./dev.sh test runs them again without it.
package race
