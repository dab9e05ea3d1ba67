#!/usr/bin/env bash
# A site's first load of the sample, before and after a change, in alternating rounds on
# one warm Spark Connect server (`make spark-start` first), each into a new bucket:
#   benchmarks/first_load_ab.sh BEFORE AFTER FILE... (e.g. da1a1d2 a9984ee notebooks/lakehouse/lake.py)
# FILEs are checked out at each revision in turn and restored at the end; the tree must
# be clean. Prints each run's wall seconds and the sum of its steps' seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benchmarks/revision_ab.sh
source benchmarks/revision_ab.sh "$@"
for round in 1 2 3; do
  for revision in "$before" "$after"; do
    at_revision "$revision"
    bucket="first-load-${revision,,}-$round-$RANDOM"
    log=$(mktemp)
    start=$(date +%s.%N)
    LAKE_BUCKET=$bucket .venv/bin/lake run >"$log" 2>&1
    end=$(date +%s.%N)
    steps=$(grep -A12 'Seconds per' "$log" | awk 'NR>4 {s+=$2} END {print s}')
    echo "round $round $revision: $(echo "$end - $start" | bc) s (steps $steps s)"
  done
done
