// Package bench measures smp's load generator against its peers.
//
// `go test -bench .` here runs the engine with the HTTP/1.1 driver against
// the built-in target in one process (quick, for spotting regressions).
// The scripts beside it run the smp binary pinned to one core against the
// target on another, each with its peer in the same run:
//
//   - closed_loop.sh: closed loop, HTTP/1.1, against wrk;
//   - h2.sh: closed loop, HTTP/2 (h2c), 2 connections x 16 streams,
//     against h2load;
//   - open_loop.sh: open loop against Fortio, rate accuracy and lateness,
//     and the highest rate one core holds;
//   - rss.sh: peak memory of a long run against a short one;
//   - grpc.sh: gRPC unary calls against ghz;
//   - tcp.sh: TCP echo against a bare Go read/write loop;
//   - all.sh: every script above, then target/bench.sh;
//   - lib.sh: sourced by closed_loop.sh, h2.sh, open_loop.sh and rss.sh, which
//     command smpbench does the measuring for.
package bench
