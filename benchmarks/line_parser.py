"""Benchmark: the line parser alone, in one Python process (one core, no Spark), with
plain rows read by Arrow compute (lakehouse.bronze.plain_rows, the parser now) against every
row read by lxml (the parser before), alternating rounds so machine noise hits both.

Run: `.venv/bin/python benchmarks/line_parser.py --mb 100 --rounds 3`. It reads the
first MB of a generated Posts.xml (`make benchmark` keeps them in data/bench) in
batches of 10,000 lines, as Spark hands them over, and prints a Markdown table.
"""

import argparse
import time
from itertools import islice

import pyarrow as pa
from run_benchmarks import machine, print_speed_table

from lakehouse.bronze import xml_rows
from lakehouse.bronze.plain_rows import leave_every_row
from lakehouse.schemas import table_for_file
from worker.paths import REPO_ROOT

POSTS = table_for_file("Posts.xml")
BATCH_LINES = 10_000  # spark.sql.execution.arrow.maxRecordsPerBatch


def read_batches(megabytes: int) -> tuple[list[pa.Array], int]:
    source = min(REPO_ROOT.glob("data/bench/posts-*mb/Posts.xml"), key=lambda p: p.stat().st_size)
    batches, size = [], 0
    with source.open(encoding="utf-8") as stream:
        while size < megabytes * 10**6:
            lines = [line.rstrip("\n") for line in islice(stream, BATCH_LINES)]
            if not lines:
                break
            size += sum(len(line.encode()) for line in lines)
            batches.append(pa.array(lines, pa.string()))
    return batches, size


def seconds(batches: list[pa.Array], reader) -> float:
    original = xml_rows.read_plain_rows
    xml_rows.read_plain_rows = reader
    try:
        started = time.perf_counter()
        for batch in batches:
            xml_rows.parse_lines(batch, POSTS)
        return time.perf_counter() - started
    finally:
        xml_rows.read_plain_rows = original


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    batches, size = read_batches(args.mb)
    times = {"lxml for every row (before)": [], "Arrow for plain rows (now)": []}
    for _ in range(args.rounds):
        times["lxml for every row (before)"].append(seconds(batches, leave_every_row))
        times["Arrow for plain rows (now)"].append(seconds(batches, xml_rows.read_plain_rows))
    print(f"{machine()}, one core used; ", end="")
    print(f"{size / 1e6:.0f} MB of Posts.xml lines, {args.rounds} rounds, median\n")
    print_speed_table(times, size, "parser")


if __name__ == "__main__":
    main()
