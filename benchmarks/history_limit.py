"""Benchmark: a table's newest version, read by DESCRIBE HISTORY whole and with LIMIT 1,
alternating, on the warm local server (`make spark-start`; the sample loaded by
`make local-run`). Run: `.venv/bin/python benchmarks/history_limit.py --calls 5`."""

import argparse
import statistics
import time

from lakehouse.lake import Lake
from lakehouse.settings import LakeSettings
from laptop.local_cluster import local_cluster
from worker.spark_session import build_local_session

TABLES = ("bronze.step_runs", "bronze.dump_loads", "bronze.posts")


def seconds(lake: Lake, name: str, limit: int | None) -> float:
    start = time.perf_counter()
    lake.history(name, limit).first()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=5)
    calls = parser.parse_args().calls
    settings = local_cluster(LakeSettings())
    lake = Lake(build_local_session(settings), settings)
    print("| table | commits | whole history, median s | LIMIT 1, median s |")
    print("|---|---|---|---|")
    for name in TABLES:
        whole, newest = [], []
        for _ in range(calls):
            whole.append(seconds(lake, name, None))
            newest.append(seconds(lake, name, 1))
        commits = lake.current_version(name) + 1
        print(
            f"| {name} | {commits} | {statistics.median(whole):.3f} "
            f"| {statistics.median(newest):.3f} |"
        )


if __name__ == "__main__":
    main()
