#!/usr/bin/env bash
# Closed loop, HTTP/2 with prior knowledge (h2c), 2 connections x 16
# streams: requests per client CPU-second of smp (--protocol http2) and of
# h2load (nghttp2, -t1) against the same target in the same run, client on
# CPU 1 (GOMAXPROCS=1), target on CPU 0. After a 2 s warm-up of the target
# by h2load, 4 rounds of 5 s runs of both, alternating which goes first;
# prints each round and the ratio of the pooled rounds. Extra arguments go
# to smpbench (e.g. -d 10s, -rounds 6, -c 4, -streams 8; bench/h2-nginx.sh
# loads nginx instead of smp target). Needs h2load (Debian package
# nghttp2-client).
source "$(dirname "$0")/lib.sh"
command -v h2load >/dev/null || { echo "h2load not found (apt-get install nghttp2-client)" >&2; exit 1; }
run_bench -c 2 -streams 16 -d 5s -rounds 4 "$@" h2
