#!/usr/bin/env bash
# Closed loop, HTTP/1.1 keep-alive, 8 connections: requests per client
# CPU-second of smp and of wrk (-t1 -c8) against the same target in the same
# run, client on CPU 1 (GOMAXPROCS=1), target on CPU 0; prints the ratio.
# Extra arguments go to smpbench (e.g. -d 30s).
source "$(dirname "$0")/lib.sh"
command -v wrk >/dev/null || { echo "wrk not found (apt-get install wrk)" >&2; exit 1; }
run_bench -c 8 "$@" closed
