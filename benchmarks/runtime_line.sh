#!/usr/bin/env bash
# The user-facing timings that a change of Spark line or Python moves, on one warm
# Spark Connect server, each first load into a new bucket:
#   benchmarks/runtime_line.sh [ROUNDS]
# Prints: a new server's first load, then ROUNDS first loads, the same dump again, and
# `make sql`, each as wall seconds. Stops the server it started.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-4}
query="SELECT tag, question_count FROM gold.most_popular_tags ORDER BY 2 DESC LIMIT 3"
seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N); printf '%.2f' "$(echo "$end - $start" | bc)"; }
.venv/bin/lake spark stop >/dev/null 2>&1 || true
.venv/bin/lake spark start >/dev/null
trap '.venv/bin/lake spark stop >/dev/null 2>&1' EXIT
echo "python $(.venv/bin/python -c 'import platform; print(platform.python_version())'), pyspark $(.venv/bin/python -c 'import pyspark; print(pyspark.__version__)'), $(git rev-parse --short HEAD)"
echo "first load on a new server: $(LAKE_BUCKET=line-warm-$RANDOM seconds .venv/bin/lake run) s"
for round in $(seq "$rounds"); do
  bucket=line-$round-$RANDOM
  first=$(LAKE_BUCKET=$bucket seconds .venv/bin/lake run)
  again=$(LAKE_BUCKET=$bucket seconds .venv/bin/lake run)
  sql=$(LAKE_BUCKET=$bucket seconds .venv/bin/lake sql "$query")
  echo "round $round: first load $first s, the same dump again $again s, lake sql $sql s"
done
