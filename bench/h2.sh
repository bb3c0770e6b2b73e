#!/usr/bin/env bash
# Closed loop, HTTP/2 with prior knowledge (h2c), 2 connections x 16
# streams: requests per client CPU-second of smp (--protocol http2) and of
# h2load (nghttp2, -t1) against the same target in the same run, client on
# CPU 1 (GOMAXPROCS=1), target on CPU 0; prints the ratio. Extra arguments
# go to smpbench (e.g. -d 30s, -c 4, -streams 8; -url http://127.0.0.1:PORT/
# to load another h2c server, started and pinned to CPU 0 beforehand, instead
# of smp target). Needs h2load (Debian package nghttp2-client).
source "$(dirname "$0")/lib.sh"
command -v h2load >/dev/null || { echo "h2load not found (apt-get install nghttp2-client)" >&2; exit 1; }
run_bench -c 2 -streams 16 "$@" h2
