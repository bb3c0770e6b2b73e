#!/usr/bin/env bash
# Proxy overhead, in one script run, on 127.0.0.1:
#  - added latency (p50, p99) of smp proxy in pass-through mode and of
#    Debian's nginx as a reverse proxy (one worker, upstream keep-alive),
#    over the direct path to the built-in target; and each proxy's CPU per
#    request (its process's user+system time over the requests it served);
#  - the native rate limiter against the proxy-wasm one (lab/wasm/ratelimit,
#    built here), both configured so that nothing is limited: the time in
#    the filter per request, as smp proxy measures it, and the added latency
#    and CPU of each.
# The load generator (smp run, open loop) is pinned to CPU 0; the target and
# the proxies to CPU 1. Each variant runs for DURATION at RATE requests/s,
# RUNS rounds in a rotated order; the summary gives each figure's median and
# range over the rounds, and the load average before and after.
# Environment: RATE (default 2000), DURATION (10s), RUNS (3), CONNS (16),
# OUT (a directory for the raw results; default a temporary one).
# Needs taskset (util-linux), nginx and jq (Debian packages).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
RATE=${RATE:-2000} DURATION=${DURATION:-10s} RUNS=${RUNS:-3} CONNS=${CONNS:-16}
for c in taskset nginx jq; do
	command -v "$c" >/dev/null || { echo "$c not found (Debian: util-linux, nginx, jq)" >&2; exit 1; }
done
work=$(mktemp -d)
OUT=${OUT:-$work/out}
mkdir -p "$OUT"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

(cd "$root" && go build -o "$work/smp" ./cmd/smp &&
	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "$work/ratelimit.wasm" ./lab/wasm/ratelimit)
smp=$work/smp

# free_port prints a TCP port nothing listens on.
free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "no free port" >&2
	exit 1
}

# wait_http waits until URL answers (any status), at most 60 s: loading a
# Go-built module compiles it first, which takes seconds on a busy machine.
wait_http() {
	for _ in $(seq 1 600); do
		curl -s -o /dev/null "$1" && return 0
		sleep 0.1
	done
	echo "$1 did not answer" >&2
	exit 1
}

# cpu_ticks prints the user+system clock ticks of a process and its children.
cpu_ticks() {
	local total=0 p
	for p in "$1" $(pgrep -P "$1" || true); do
		total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo "$total"
}

t_port=$(free_port)
taskset -c 1 "$smp" target --http "127.0.0.1:$t_port" >"$work/target.log" 2>&1 &
pids+=($!)
target_pid=$!
wait_http "http://127.0.0.1:$t_port/"

# start_proxy NAME ARGS...: an smp proxy in front of the target.
declare -A url pid admin
start_proxy() {
	local name=$1 port aport
	shift
	port=$(free_port)
	aport=$(free_port)
	taskset -c 1 "$smp" proxy --listen "127.0.0.1:$port" --admin "127.0.0.1:$aport" \
		--upstream "http://127.0.0.1:$t_port" "$@" >"$work/$name.log" 2>&1 &
	pids+=($!)
	pid[$name]=$!
	url[$name]="http://127.0.0.1:$port/"
	admin[$name]="http://127.0.0.1:$aport"
	wait_http "${url[$name]}"
}
url[direct]="http://127.0.0.1:$t_port/"
pid[direct]=$target_pid
start_proxy pass
start_proxy native --filter "ratelimit:rate=1000000000,burst=1000000000"
start_proxy wasm --wasm "$work/ratelimit.wasm" --wasm-config "rate=1000000000,burst=1000000000"

n_port=$(free_port)
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $work/nginx/body;
	proxy_temp_path $work/nginx/proxy;
	fastcgi_temp_path $work/nginx/fastcgi;
	uwsgi_temp_path $work/nginx/uwsgi;
	scgi_temp_path $work/nginx/scgi;
	upstream target { server 127.0.0.1:$t_port; keepalive 64; }
	server {
		listen 127.0.0.1:$n_port;
		location / {
			proxy_pass http://target;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_buffering off;
		}
	}
}
CONF
taskset -c 1 nginx -p "$work/nginx" -e "$work/nginx/error.log" -c "$work/nginx/nginx.conf" &
pids+=($!)
pid[nginx]=$!
url[nginx]="http://127.0.0.1:$n_port/"
wait_http "${url[nginx]}"

variants=(direct pass nginx native wasm)
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; rate $RATE/s, $CONNS connections, $DURATION per run, $RUNS rounds"
for v in "${variants[@]}"; do # warm every path up, unrecorded
	taskset -c 0 "$smp" run -q --no-cluster --qps "$RATE" -c "$CONNS" -d 2s --format json "${url[$v]}" >/dev/null
done
hz=$(getconf CLK_TCK)
for r in $(seq 1 "$RUNS"); do
	for i in "${!variants[@]}"; do
		v=${variants[$(((i + r - 1) % ${#variants[@]}))]}
		[ -n "${admin[$v]:-}" ] && curl -s -X POST "${admin[$v]}/_smp/proxy/stats/reset" >/dev/null
		c0=$(cpu_ticks "${pid[$v]}")
		taskset -c 0 "$smp" run -q --no-cluster --qps "$RATE" -c "$CONNS" -d "$DURATION" --warmup 0s --format json "${url[$v]}" >"$OUT/$v-$r.json"
		c1=$(cpu_ticks "${pid[$v]}")
		stats=null
		[ -n "${admin[$v]:-}" ] && stats=$(curl -s "${admin[$v]}/_smp/proxy/stats")
		# One line per run: the latency (ms), requests, and CPU µs per
		# request of the server path measured; with a filter, its cost.
		jq -c --argjson stats "$stats" --arg v "$v" --argjson r "$r" --argjson cpu "$(((c1 - c0)))" --argjson hz "$hz" '
			{variant: $v, run: $r, p50_ms: .latencies_ms.p50, p99_ms: .latencies_ms.p99,
			 requests: .requests.total, errors: (.requests.errors // 0),
			 cpu_us_per_req: ($cpu / $hz * 1e6 / .requests.total),
			 filter_mean_ns: ($stats.filters[0].cost.mean_ns // null),
			 filter_p50_us: ($stats.filters[0].cost.p50_us // null),
			 filter_p99_us: ($stats.filters[0].cost.p99_us // null)}' "$OUT/$v-$r.json" >>"$OUT/runs.jsonl"
	done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "raw results: $OUT/runs.jsonl"
# The summary: median [min–max] over the rounds; added latency is each
# round's figure minus the direct path's in the same round.
jq -rs '
	def med: sort | if length % 2 == 1 then .[length/2|floor] else (.[length/2-1] + .[length/2]) / 2 end;
	def fmt(d): if . == null then "-" else (. * pow(10; d) | round / pow(10; d) | tostring) end;
	def cell(f; d): [.[] | f] | if any(. == null) then "-" else "\(med | fmt(d)) [\(min | fmt(d))–\(max | fmt(d))]" end;
	(map(select(.variant == "direct")) | map({key: (.run|tostring), value: .}) | from_entries) as $direct
	| map(. + {add_p50_us: ((.p50_ms - $direct[.run|tostring].p50_ms) * 1000), add_p99_us: ((.p99_ms - $direct[.run|tostring].p99_ms) * 1000)})
	| group_by(.variant) | map({v: .[0].variant, rows: .}) as $groups
	| "| variant | p50 ms | p99 ms | added p50 µs | added p99 µs | CPU µs/request | filter mean ns | filter p99 µs | errors |",
	  "|---|---|---|---|---|---|---|---|---|",
	  ($groups[] | .rows as $x | "| \(.v) | \($x | cell(.p50_ms; 3)) | \($x | cell(.p99_ms; 3)) | \($x | cell(.add_p50_us; 0)) | \($x | cell(.add_p99_us; 0)) | \($x | cell(.cpu_us_per_req; 1)) | \($x | cell(.filter_mean_ns; 0)) | \($x | cell(.filter_p99_us; 0)) | \([$x[].errors] | add) |")
' "$OUT/runs.jsonl"
