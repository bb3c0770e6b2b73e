//go:build !race

package http2

// raceEnabled reports a -race build, whose instrumentation changes what
// crypto/tls allocates.
const raceEnabled = false
