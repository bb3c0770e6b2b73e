#!/usr/bin/env bash
# Every benchmark script, one after another: each bench/*.sh that is a
# benchmark (closed_loop.sh, h2.sh, h2-nginx.sh, open_loop.sh, rss.sh, grpc.sh, tcp.sh, agents.sh,
# proxy.sh; lib.sh
# is sourced by them, not run), then target/bench.sh (the target against a
# net/http handler). Extra arguments go to every bench/*.sh (the smpbench
# ones take them, e.g. -d 30s; grpc.sh, tcp.sh and proxy.sh ignore them). A script
# that fails does not stop the others; the exit status is 1 if any failed.
# Needs wrk (Debian package wrk), h2load (nghttp2-client) and taskset
# (util-linux); grpc.sh and
# open_loop.sh build ghz and Fortio from the Go module proxy.
set -uo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
failed=()
run() {
  echo "== $1"
  "${@:2}" || failed+=("$1")
}
for s in "$dir"/*.sh; do
  case "$(basename "$s")" in all.sh | lib.sh) continue ;; esac
  run "bench/$(basename "$s")" bash "$s" "$@"
done
run target/bench.sh sh "$dir/../target/bench.sh"
if [ ${#failed[@]} -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
