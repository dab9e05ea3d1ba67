#!/usr/bin/env bash
# `make databricks-imitation` on the sample, before and after a change, in alternating
# rounds. Each round starts a new Spark Connect server, warms it with one `lake run` (as
# the suite's local run does before its imitation), then times the imitation into a new
# bucket:
#   benchmarks/imitation_ab.sh BEFORE AFTER FILE... (e.g. 709d5be d6ed029 env/localenv/databricks_imitation.py)
# FILEs are checked out at each revision in turn and restored at the end; the tree must
# be clean. Prints each run's wall seconds and the CPU seconds it took: its own process
# and its children, plus the server's.
set -euo pipefail
cd "$(dirname "$0")/.."
before=$1 after=$2
shift 2
[ -z "$(git status --porcelain)" ] || { echo "error: commit or stash your changes first" >&2; exit 1; }
trap 'git checkout -q HEAD -- "$@"' EXIT
ticks=$(getconf CLK_TCK)
server_cpu() {  # utime + stime of the Spark Connect server, in seconds
  local pid
  pid=$(cut -d" " -f1 .local/spark-connect/spark-connect.pid)
  awk -v t="$ticks" '{printf "%.1f", ($14 + $15) / t}' "/proc/$pid/stat"
}
for round in 1 2 3; do
  for revision in "$before" "$after"; do
    make -s spark-stop spark-start >/dev/null 2>&1
    warm="imitation-warm-$round-$RANDOM"
    LAKE_BUCKET=$warm .venv/bin/lake run >/dev/null 2>&1
    git checkout -q "$revision" -- "$@"
    server_before=$(server_cpu)
    own=$(mktemp)
    start=$(date +%s.%N)
    LAKE_BUCKET="imitation-${revision,,}-$round-$RANDOM" /usr/bin/time -f "%U %S" -o "$own" \
      .venv/bin/lake databricks-imitation --raw-root "s3a://$warm/raw" >/dev/null 2>&1
    end=$(date +%s.%N)
    cpu=$(awk -v s="$server_before" -v now="$(server_cpu)" '{printf "%.1f", $1 + $2 + now - s}' "$own")
    echo "round $round $revision: $(echo "$end - $start" | bc) s wall, $cpu s CPU"
  done
done
