#!/usr/bin/env bash
# gRPC unary, closed loop: calls per client CPU-second of smp (the engine with
# the gRPC driver) and of ghz, against the same target in the same run, with
# the same concurrency (connections x concurrent calls per connection) and
# the same request. The target (smp target --grpc) runs on CPU 0, each client
# on CPU 1 (smp with GOMAXPROCS=1, ghz with --cpus 1); CPU time is each
# client process's rusage. Prints both figures and their ratio (the aim is
# 1.5 or better).
#
# ghz is built from the Go module proxy into a temporary directory, never
# kept: GHZ_VERSION picks the version (default v0.93.0, the newest the proxy
# serves as a module). Environment: SMP_BENCH_CONNS (default 2),
# SMP_BENCH_STREAMS (default 16), SMP_BENCH_SECONDS per run (default 5).
# Needs taskset (util-linux).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v taskset >/dev/null || { echo "taskset not found (apt-get install util-linux)" >&2; exit 1; }
if [ "$(nproc)" -lt 2 ]; then
  echo "this benchmark pins the target and the clients to two different CPUs; this machine has $(nproc)" >&2
  exit 1
fi
conns=${SMP_BENCH_CONNS:-2}
streams=${SMP_BENCH_STREAMS:-16}
secs=${SMP_BENCH_SECONDS:-5}
ghz_version=${GHZ_VERSION:-v0.93.0}
body='{"payload": "aGVsbG8="}' # the same as BenchmarkClientCPU's

bin=$(mktemp -d)
target_pid=
cleanup() {
  if [ -n "$target_pid" ]; then kill "$target_pid" 2>/dev/null || true; wait "$target_pid" 2>/dev/null || true; fi
  rm -rf "$bin"
}
trap cleanup EXIT
(cd "$root" && go build -o "$bin/smp" ./cmd/smp && go test -c -o "$bin/grpc.test" ./load/grpc)
# Outside the module, so that ghz's dependencies do not touch go.mod.
(cd "$bin" && GOBIN="$bin" GOFLAGS=-mod=mod go install "github.com/bojand/ghz/cmd/ghz@$ghz_version")

taskset -c 0 "$bin/smp" target --grpc 127.0.0.1:0 >"$bin/target.out" 2>&1 &
target_pid=$!
addr=
for _ in $(seq 100); do
  addr=$(awk '$1 == "grpc" { print $2; exit }' "$bin/target.out")
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { echo "smp target did not start:" >&2; cat "$bin/target.out" >&2; exit 1; }

echo "machine: $(nproc) CPUs; target (smp target --grpc $addr) on CPU 0, client on CPU 1;" \
  "$conns connections x $streams calls each, ${secs}s per run; ghz $ghz_version"

taskset -c 1 env GOMAXPROCS=1 SMP_BENCH_GRPC_ADDR="$addr" SMP_BENCH_CONNS="$conns" SMP_BENCH_STREAMS="$streams" \
  SMP_BENCH_SECONDS="$secs" "$bin/grpc.test" -test.run '^$' -test.bench '^BenchmarkClientCPU$' -test.benchtime 1x |
  tee "$bin/bench.out"
smp=$(awk '$1 ~ /^BenchmarkClientCPU/ { for (i = 2; i <= NF; i++) if ($i == "calls/cpu-s") print $(i-1) }' "$bin/bench.out")
[ -n "$smp" ] || { echo "no figure in the benchmark output" >&2; exit 1; }

# ghz finds the method by reflection, as smp does.
taskset -c 1 /usr/bin/time -f '%U %S' -o "$bin/ghz.time" "$bin/ghz" --insecure --cpus 1 \
  --call smp.target.v1.Echo.Echo -d "$body" -c $((conns * streams)) --connections "$conns" -z "${secs}s" \
  --format json "$addr" >"$bin/ghz.json"
count=$(grep -o '"count":[0-9]*' "$bin/ghz.json" | head -1 | cut -d: -f2)
ok=$(grep -o '"OK":[0-9]*' "$bin/ghz.json" | head -1 | cut -d: -f2)
[ -n "$count" ] || { echo "no count in ghz's output:" >&2; head -c 2000 "$bin/ghz.json" >&2; exit 1; }
# ghz cancels the calls in flight when the time is up; any other failure
# makes the figures incomparable.
if [ $(( count - ${ok:-0} )) -gt $((conns * streams)) ]; then
  echo "ghz: only ${ok:-0} of $count calls were OK:" >&2
  grep -o '"errorDistribution":{[^}]*}' "$bin/ghz.json" >&2 || true
  exit 1
fi
read -r user sys <"$bin/ghz.time"
awk -v n="$ok" -v u="$user" -v s="$sys" -v secs="$secs" -v smp="$smp" 'BEGIN {
  g = n / (u + s)
  printf "ghz: %d OK calls, %.1f calls/s, %.2f s CPU, %.0f calls/cpu-s\n", n, n / secs, u + s, g
  printf "gRPC unary: smp %.0f calls/cpu-s, ghz %.0f calls/cpu-s, ratio %.2f\n", smp, g, smp / g
}'
