#!/usr/bin/env bash
# Closed loop, HTTP/1.1 keep-alive, 8 connections: requests per client
# CPU-second of smp and of wrk (-t1 -c8) against the same target in the same
# run, client on CPU 1 (GOMAXPROCS=1), target on CPU 0. After a 2 s warm-up
# of the target by wrk, 4 rounds of 5 s runs of both, alternating which
# goes first; prints each round and the ratio of the pooled rounds. Extra
# arguments go to smpbench (e.g. -d 10s, -rounds 6).
source "$(dirname "$0")/lib.sh"
command -v wrk >/dev/null || { echo "wrk not found (apt-get install wrk)" >&2; exit 1; }
run_bench -c 8 -d 5s -rounds 4 "$@" closed
