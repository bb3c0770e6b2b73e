# Sourced by the bench scripts: builds smp and smpbench into a temporary
# directory and defines run_bench. Needs taskset (util-linux) and, for the
# closed-loop comparison, wrk (Debian package wrk).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
(cd "$root" && go build -o "$bin/smp" ./cmd/smp && go build -o "$bin/smpbench" ./bench/smpbench)
command -v taskset >/dev/null || { echo "taskset not found (apt-get install util-linux)" >&2; exit 1; }
if [ "$(nproc)" -lt 2 ]; then
  echo "these benchmarks pin the target and the client to two different CPUs; this machine has $(nproc)" >&2
  exit 1
fi
run_bench() { "$bin/smpbench" -smp "$bin/smp" "$@"; }
# need_fortio builds Fortio (the peer of the open-loop benchmark) into the
# temporary directory: v1.66.0, the newest whose dependencies the module
# proxy serves here.
need_fortio() {
  GOBIN="$bin" go install fortio.org/fortio@v1.66.0
}
