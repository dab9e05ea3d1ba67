#!/usr/bin/env bash
# The Spark Connect server's JVM options, A against B, as the test suite uses a server:
# started cold, then two first loads of the sample, each into a new bucket. Alternating
# rounds; prints each run's wall seconds and the server's CPU seconds from its start:
#   benchmarks/server_jvm_ab.sh "-XX:+UseSerialGC" "-XX:+UseSerialGC -Dspark.sql.codegen.wholeStage=false"
set -euo pipefail
cd "$(dirname "$0")/.."
ticks=$(getconf CLK_TCK)
server_cpu() {  # utime + stime of the Spark Connect server, in seconds
  local pid
  pid=$(cut -d" " -f1 .local/spark-connect/spark-connect.pid)
  awk -v t="$ticks" '{printf "%.1f", ($14 + $15) / t}' "/proc/$pid/stat"
}
for round in 1 2; do
  for variant in A B; do
    if [ "$variant" = A ]; then options=$1; else options=$2; fi
    make -s spark-stop >/dev/null 2>&1
    LAKE_SPARK_JAVA_OPTIONS=$options make -s spark-start >/dev/null 2>&1
    runs=""
    for run in 1 2; do
      start=$(date +%s.%N)
      LAKE_BUCKET="jvm-ab-${variant,,}-$round-$run-$RANDOM" .venv/bin/lake run >/dev/null 2>&1
      runs="$runs $(echo "$(date +%s.%N) - $start" | bc | cut -c1-5) s"
    done
    echo "round $round $variant: runs$runs; server CPU $(server_cpu) s"
  done
done
make -s spark-stop >/dev/null 2>&1
