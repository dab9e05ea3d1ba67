#!/usr/bin/env bash
# `make databricks-imitation` on the sample, before and after a change, in alternating
# rounds. Each round starts a new Spark Connect server, warms it with one `lake run` (as
# the suite's local run does before its imitation), then times the imitation into a new
# bucket:
#   benchmarks/imitation_ab.sh BEFORE AFTER FILE... (e.g. 709d5be d6ed029 env/localenv/databricks_imitation.py,
#   the file's path at those commits)
# FILEs are checked out at each revision in turn and restored at the end; the tree must
# be clean. Prints each run's wall seconds and the machine's CPU seconds meanwhile (all
# processes: the in-process JVM of an older imitation is not a child the shell can time),
# so nothing else should run. ROUNDS=<n> sets the rounds (default 3). The imitation runs
# with IMITATION_JAVA_OPTIONS (default C1-only and the serial GC, the strongest setup of an
# in-process JVM for this short job, docs/benchmarks-history.md, 2026-12-04); a client of the already
# running server starts no JVM, so they change nothing there.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benchmarks/revision_ab.sh
source benchmarks/revision_ab.sh "$@"
ticks=$(getconf CLK_TCK)
machine_cpu() {  # user + nice + system time of every core since boot, in seconds
  awk -v t="$ticks" '/^cpu / {printf "%.1f", ($2 + $3 + $4) / t}' /proc/stat
}
for round in $(seq "${ROUNDS:-3}"); do
  for revision in "$before" "$after"; do
    make -s spark-stop spark-start >/dev/null 2>&1
    warm="imitation-warm-$round-$RANDOM"
    LAKE_BUCKET=$warm .venv/bin/lake run >/dev/null 2>&1
    at_revision "$revision"
    cpu_before=$(machine_cpu)
    start=$(date +%s.%N)
    LAKE_BUCKET="imitation-${revision,,}-$round-$RANDOM" \
      LAKE_SPARK_JAVA_OPTIONS=${IMITATION_JAVA_OPTIONS:-"-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"} \
      .venv/bin/lake databricks-imitation --raw-root "s3a://$warm/raw" >/dev/null 2>&1
    end=$(date +%s.%N)
    sleep 2  # an in-process JVM's exit
    cpu=$(echo "$(machine_cpu) - $cpu_before" | bc)
    echo "round $round $revision: $(echo "$end - $start" | bc) s wall, $cpu s CPU"
  done
done
