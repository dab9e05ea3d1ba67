"""Benchmark: every runner as a client of the warm local Spark Connect server, against
the same runner with a Spark of its own in the process (the runners before, and what a
user gets from PySpark and delta-spark alone). Alternating rounds, so machine noise hits
both.

Two runners: the eight medallion notebooks in one kernel (`make local-run` without its
ingest; a re-run of the same dump, so every round does the same work) and a three-row
`make sql` query in a fresh process. Needs the sample in the local lake
(`make local-run` once). Run: `.venv/bin/python benchmarks/warm_spark.py --rounds 3`.
Prints a Markdown table.
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

from shared_kernel import OUTPUT, one_shared_kernel  # this folder's runner benchmark

from lakehouse.settings import LakeSettings
from laptop.local_cluster import REMOTE_VARIABLE, local_cluster

QUERY = "SELECT tag, question_count FROM gold.most_popular_tags ORDER BY 2 DESC LIMIT 3"
OWN_SPARK_QUERY = (
    "import sys; from lakehouse.runtime import open_lake; "
    "open_lake().sql(sys.argv[1]).toPandas().to_csv(sys.stdout, index=False)"
)


def notebooks(remote: str) -> float:
    os.environ[REMOTE_VARIABLE] = remote  # the kernel inherits it
    return one_shared_kernel()


def query(remote: str) -> float:
    command = (
        [sys.executable, "-m", "laptop.cli", "sql", QUERY]
        if remote
        else [sys.executable, "-c", OWN_SPARK_QUERY, QUERY]
    )
    started = time.monotonic()
    subprocess.run(
        command, check=True, capture_output=True, env={**os.environ, REMOTE_VARIABLE: remote}
    )
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    remote = local_cluster(LakeSettings()).spark_remote
    OUTPUT.mkdir(parents=True, exist_ok=True)
    times = {(runner, mode): [] for runner in ("notebooks", "sql") for mode in ("own", "warm")}
    for _ in range(args.rounds):
        for mode, url in (("own", ""), ("warm", remote)):
            times[("notebooks", mode)].append(notebooks(url))
            times[("sql", mode)].append(query(url))
    print(f"Machine: {platform.platform()}, {os.cpu_count()} cores; {args.rounds} rounds, median s")
    print("\n| runner | own Spark in the process, s | client of the warm server, s | ratio |")
    print("|---|---|---|---|")
    labels = {"notebooks": "8 notebooks, one kernel", "sql": f"`make sql` ({QUERY})"}
    for runner, label in labels.items():
        own, warm = (statistics.median(times[(runner, mode)]) for mode in ("own", "warm"))
        print(f"| {label} | {own:.1f} | {warm:.1f} | {own / warm:.2f}x |")


if __name__ == "__main__":
    main()
