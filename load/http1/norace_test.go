//go:build !race

package http1

// raceEnabled reports a -race build, whose instrumentation changes what
// crypto/tls allocates.
const raceEnabled = false
