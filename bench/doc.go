// Package bench holds smp's load-generator benchmarks: `go test -bench .`
// here runs the engine with the HTTP/1.1 driver against the built-in target
// in one process (quick, for spotting regressions), and the scripts beside
// it (closed_loop.sh, open_loop.sh, rss.sh, all.sh) run the smp binary pinned
// to one core against the target on another and compare it with wrk
// (command smpbench does the measuring).
package bench
