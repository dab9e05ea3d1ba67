#!/usr/bin/env bash
# One notebook as an Airflow task runs it (papermill, a kernel of its own, a client of
# the warm server), before and after a change, in alternating rounds. On a lake that
# already holds the site's dump (`make local-run` first) the step has nothing to do, so
# this times the task's own cost: the kernel, the imports, the session, the skip:
#   benchmarks/notebook_task_ab.sh BEFORE AFTER FILE... (e.g. 6f71eda 1a2b3c4 notebooks/lakehouse/steps.py)
# FILEs are checked out at each revision in turn and restored at the end; the tree must
# be clean. NOTEBOOK=<name> picks the notebook (default silver_users), ROUNDS the rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=benchmarks/revision_ab.sh
source benchmarks/revision_ab.sh "$@"
notebook=${NOTEBOOK:-silver_users}
output=$(mktemp -d)
for round in $(seq "${ROUNDS:-4}"); do
  for revision in "$before" "$after"; do
    at_revision "$revision"
    start=$(date +%s.%N)
    LAKE_SPARK_REMOTE=${LAKE_SPARK_REMOTE:-sc://127.0.0.1:15002} .venv/bin/papermill \
      --no-progress-bar "notebooks/$notebook.ipynb" "$output/$notebook.ipynb" \
      -p site sample.stackexchange.com >/dev/null 2>&1
    echo "round $round $revision: $(echo "$(date +%s.%N) - $start" | bc) s"
  done
done
