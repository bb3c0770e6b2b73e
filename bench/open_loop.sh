#!/usr/bin/env bash
# Open loop on one client core, against the target on another:
#  - smp and Fortio (built here, v1.66.0) at 20,000 requests/s with 16 and
#    64 connections, 10 s each, in the same run: requests per user and per
#    total client CPU-second, smp's lateness, and the target's arrival-gap
#    percentiles for each (how evenly each generator spaced its requests);
#  - smp alone at 20,000 and 50,000/s: rate accuracy and lateness;
#  - the highest rate one core holds within 1% with lateness p99 < 1 ms.
# Extra arguments go to smpbench (e.g. -d 30s).
source "$(dirname "$0")/lib.sh"
need_fortio
run_bench -fortio "$bin/fortio" -c 64 "$@" fortio open maxrate
