#!/usr/bin/env bash
# TCP echo, closed loop: requests per client CPU-second of the engine with the
# TCP driver against a bare Go write/read loop (one goroutine per connection,
# nothing else), over the same number of connections to the same target, in
# the same run. The target (smp target --tcp) runs on CPU 0, the client on
# CPU 1 with GOMAXPROCS=1; CPU time is the client process's rusage. Prints
# both figures and their ratio (the aim is 0.9 or better).
#
# Environment: SMP_BENCH_CONNS (default 4), SMP_BENCH_SECONDS per run
# (default 5). Needs taskset (util-linux).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v taskset >/dev/null || { echo "taskset not found (apt-get install util-linux)" >&2; exit 1; }
if [ "$(nproc)" -lt 2 ]; then
  echo "this benchmark pins the target and the client to two different CPUs; this machine has $(nproc)" >&2
  exit 1
fi
bin=$(mktemp -d)
target_pid=
cleanup() {
  if [ -n "$target_pid" ]; then kill "$target_pid" 2>/dev/null || true; wait "$target_pid" 2>/dev/null || true; fi
  rm -rf "$bin"
}
trap cleanup EXIT
(cd "$root" && go build -o "$bin/smp" ./cmd/smp && go test -c -o "$bin/tcp.test" ./load/tcp)

taskset -c 0 "$bin/smp" target --tcp 127.0.0.1:0 >"$bin/target.out" 2>&1 &
target_pid=$!
addr=
for _ in $(seq 100); do
  addr=$(awk '$1 == "tcp" { print $2; exit }' "$bin/target.out")
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { echo "smp target did not start:" >&2; cat "$bin/target.out" >&2; exit 1; }

echo "machine: $(nproc) CPUs; target (smp target --tcp $addr) on CPU 0, client on CPU 1, ${SMP_BENCH_CONNS:-4} connections, ${SMP_BENCH_SECONDS:-5}s per run"
taskset -c 1 env GOMAXPROCS=1 SMP_BENCH_TCP_ADDR="$addr" "$bin/tcp.test" \
  -test.run '^$' -test.bench '^BenchmarkClientCPU$' -test.benchtime 1x | tee "$bin/bench.out"

# The figure before "req/cpu-s" on each sub-benchmark's line.
figure() { awk -v name="$1" '$1 ~ "^BenchmarkClientCPU/" name { for (i = 2; i <= NF; i++) if ($i == "req/cpu-s") print $(i-1) }' "$bin/bench.out"; }
engine=$(figure engine)
bare=$(figure bare)
[ -n "$engine" ] && [ -n "$bare" ] || { echo "no figures in the benchmark output" >&2; exit 1; }
awk -v e="$engine" -v b="$bare" 'BEGIN { printf "TCP echo: smp %.0f req/cpu-s, bare Go loop %.0f req/cpu-s, ratio %.2f\n", e, b, e / b }'
