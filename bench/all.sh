#!/usr/bin/env bash
# Every benchmark in one go (about 2 minutes 40 s).
source "$(dirname "$0")/lib.sh"
command -v wrk >/dev/null || { echo "wrk not found (apt-get install wrk)" >&2; exit 1; }
run_bench -c 8 "$@" closed
run_bench -c 16 "$@" open rss
