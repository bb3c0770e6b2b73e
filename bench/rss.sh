#!/usr/bin/env bash
# Peak RSS of a 60 s run against a 10 s run at the same rate (5,000/s):
# memory must not grow with the run's length.
source "$(dirname "$0")/lib.sh"
run_bench -c 16 "$@" rss
