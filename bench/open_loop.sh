#!/usr/bin/env bash
# Open loop on one client core: 20,000 and 50,000 requests/s for 10 s each;
# prints the actual rate against the requested one and the generator's
# lateness p99. 64 connections: with 16, one slow answer from the target
# holds its connection past the next due time (each connection carries
# every 16th slot), and that backlog shows as lateness. Extra arguments go
# to smpbench (e.g. -rates 20000 -c 16).
source "$(dirname "$0")/lib.sh"
run_bench -c 64 "$@" open
