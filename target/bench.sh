#!/bin/sh
# bench.sh: requests per CPU-second of the target's HTTP/1.1 keep-alive path
# against a plain net/http handler, both answering an empty 200.
#
# Each server runs with GOMAXPROCS=1 pinned to CPU 0 (taskset); wrk, the
# load, runs pinned to CPU 1. The server's CPU time (user+system) is read
# from /proc/PID/stat before and after the measured wrk run, so the figure
# is requests served per CPU-second actually spent by the server, whether or
# not it saturates its core. Needs wrk and taskset (Debian: wrk, util-linux).
#
#   target/bench.sh                  # 3 rounds of 10 s per server, 64 connections
#   DURATION=5 ROUNDS=1 CONNS=16 target/bench.sh
set -eu
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
ROUNDS=${ROUNDS:-3}
PORT=${PORT:-18181}
CLK=$(getconf CLK_TCK)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/benchsrv" ./target/internal/benchsrv

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

measure() {
	GOMAXPROCS=1 taskset -c 0 "$tmp/benchsrv" -mode "$1" -addr "127.0.0.1:$PORT" &
	pid=$!
	i=0
	until wrk -t1 -c1 -d1s "http://127.0.0.1:$PORT/" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 50 ] || { echo "bench: $1 server did not start" >&2; kill $pid; exit 1; }
		sleep 0.1
	done
	taskset -c 1 wrk -t1 -c"$CONNS" -d2s "http://127.0.0.1:$PORT/" >/dev/null # warm up
	before=$(cpu_ticks $pid)
	out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$PORT/")
	after=$(cpu_ticks $pid)
	kill $pid
	wait $pid 2>/dev/null || true
	reqs=$(echo "$out" | awk '/requests in/ {print $1}')
	errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}')
	[ -z "$errs" ] || echo "bench: $1: $errs" >&2
	echo "$reqs $((after - before))"
}

# Alternate the two servers, so that load from elsewhere on the machine
# falls on both alike; the totals over all rounds give the figures.
printf "HTTP/1.1 keep-alive, empty 200, %d connections, %d s x %d rounds, server on 1 core (GOMAXPROCS=1)\n" "$CONNS" "$DURATION" "$ROUNDS"
printf "%-6s %-9s %11s %8s %12s\n" round server requests cpu_s req/cpu_s
br=0 bt=0 sr=0 st=0
r=1
while [ $r -le "$ROUNDS" ]; do
	for mode in nethttp smp; do
		set -- $(measure $mode)
		awk -v r=$r -v m=$mode -v n="$1" -v t="$2" -v clk="$CLK" 'BEGIN { printf "%-6d %-9s %11d %8.2f %12.0f\n", r, m, n, t / clk, n / (t / clk) }'
		if [ $mode = nethttp ]; then br=$((br + $1)) bt=$((bt + $2)); else sr=$((sr + $1)) st=$((st + $2)); fi
	done
	r=$((r + 1))
done
awk -v br=$br -v bt=$bt -v sr=$sr -v st=$st -v clk="$CLK" 'BEGIN {
	b = br / (bt / clk); s = sr / (st / clk)
	printf "total  net/http  %11d %8.2f %12.0f\n", br, bt / clk, b
	printf "total  smp       %11d %8.2f %12.0f\n", sr, st / clk, s
	printf "ratio smp/net/http: %.2fx requests per CPU-second (goal >= 1.5x)\n", s / b
}'
