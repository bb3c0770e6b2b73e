#!/usr/bin/env bash
# Distributed scaling: 1, 2 and 4 agents, each held to the same CPU budget
# (a cgroup CPU quota, by default 15% of one core, and GOMAXPROCS=1), run a
# closed loop against one smp target for a few seconds; the total rate
# should grow with the agents, since one agent cannot reach it alone. Each
# run also checks the merged count against what the target counted.
# Needs root (cgroups; v1 "cpu" or v2 "cpu.max"), curl and python3.
# Usage: bench/agents.sh [runs=3] [quota_percent=15] [duration=5s]
set -euo pipefail
# bench/all.sh passes smpbench's flags (e.g. -d 30s) to every script: not ours.
[[ "${1:-}" == -* ]] && set --
runs=${1:-3} quota=${2:-15} dur=${3:-5s}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(mktemp -d)
cgroups=()
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  for c in "${cgroups[@]}"; do rmdir "$c" 2>/dev/null || true; done
  rm -rf "$bin"
}
trap cleanup EXIT
(cd "$root" && go build -o "$bin/smp" ./cmd/smp)
[ "$(id -u)" = 0 ] || { echo "needs root for the CPU quotas (cgroups)" >&2; exit 1; }

# cgroup_for N makes a cgroup with the quota and prints its directory.
cgroup_for() {
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    d=/sys/fs/cgroup/smp-agent-bench-$1
    mkdir -p "$d"
    echo "$((quota * 1000)) 100000" >"$d/cpu.max"
  else
    d=/sys/fs/cgroup/cpu/smp-agent-bench-$1
    mkdir -p "$d"
    echo 100000 >"$d/cpu.cfs_period_us"
    echo $((quota * 1000)) >"$d/cpu.cfs_quota_us"
  fi
  cgroups+=("$d")
  echo "$d"
}

"$bin/smp" target --http 127.0.0.1:18640 >/dev/null 2>&1 &
pids+=($!)
export SMP_AGENT_TOKEN=bench-$$
for i in 1 2 3 4; do
  cg=$(cgroup_for "$i")
  GOMAXPROCS=1 "$bin/smp" agent --listen 127.0.0.1:1964$i --write-cert "$bin/a$i.pem" >/dev/null 2>&1 &
  pids+=($!)
  echo "${pids[-1]}" >"$cg/cgroup.procs"
done
sleep 1
printf "%-7s %-4s %12s %10s %s\n" agents run "requests/s" "vs 1" "merged = target?"
declare -A rates
for n in 1 2 4; do
  addrs=$(seq -s, -f "127.0.0.1:1964%g" 1 "$n")
  cat $(seq -f "$bin/a%g.pem" 1 "$n") >"$bin/ca.pem"
  for r in $(seq 1 "$runs"); do
    before=$(curl -s http://127.0.0.1:18640/_smp/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests_total"])')
    "$bin/smp" run -q --qps 0 -c 4 -d "$dur" --agents "$addrs" --agent-ca "$bin/ca.pem" http://127.0.0.1:18640/ -o "$bin/r.json" --format json >/dev/null
    after=$(curl -s http://127.0.0.1:18640/_smp/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests_total"])')
    read -r total qps < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["requests"]["total"], r["actual_qps"])' "$bin/r.json")
    check="no"
    [ $((after - before)) -eq $((total + n)) ] && check="yes ($total + $n probes)"
    rates[$n]+="$qps "
    printf "%-7s %-4s %12.0f %10s %s\n" "$n" "$r" "$qps" "" "$check"
  done
done
python3 - "${rates[1]}" "${rates[2]}" "${rates[4]}" <<'PY'
import statistics, sys
base = statistics.median(float(x) for x in sys.argv[1].split())
for n, s in zip((1, 2, 4), sys.argv[1:]):
    v = [float(x) for x in s.split()]
    m = statistics.median(v)
    print(f"{n} agent(s): median {m:.0f}/s (range {min(v):.0f}-{max(v):.0f}), {m/base:.2f}x one agent")
PY
