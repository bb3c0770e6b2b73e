// Package lab runs controlled experiments on traffic-control functions: a
// set of variants (the same service behind different sidecar functions: no
// filter, a native rate limiter, a WebAssembly one, another proxy) measured
// at several load levels, or searched for their capacity, in randomized
// balanced order, with every variant compared against a baseline.
//
// An experiment is a YAML file (see Experiment). The processes it needs
// (the app, the proxies) are started by the experiment, awaited until
// ready, kept running through all the runs so that the order of runs can
// interleave the variants, and stopped at the end, also on failure or
// Ctrl-C. The output is one experiment result (the SMP result of every
// variant at every level, the comparisons, the capacities) and an HTML
// report with latency-versus-load curves.
package lab
