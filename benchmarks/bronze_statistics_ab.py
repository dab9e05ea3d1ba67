"""Benchmark: the one-read XML -> bronze.posts step with Delta's per-file statistics as
before session 19 (every number and date of bronze, every column of row_lineage) and as
now (site, Id and dates; lineage keys), alternating, each in a lake of its own on one
private S3Proxy and one in-process driver, a new site each round. Run:
`cd benchmarks && ../.venv/bin/python bronze_statistics_ab.py --rounds 5`.
"""

import argparse

from run_benchmarks import alternating_bronze_loads, generated_posts, print_rounds_table

import lakehouse.bronze.dump_history as dump_history
import lakehouse.bronze.xml_to_bronze as xml_to_bronze
from lakehouse.schemas import INT, LONG, TIMESTAMP


def every_number(table) -> list[str]:
    """The statistics columns bronze kept before: every number and date."""
    ranged = [a.column for a in table.attributes if a.type in (LONG, INT, TIMESTAMP)]
    return ["site", *ranged, "ingested_at"]


SETUPS = {
    "before: every number; lineage every column": (every_number, {}),
    "now: site, Id, dates; lineage keys": (
        xml_to_bronze._stats_columns,
        dump_history.LINEAGE_PROPERTIES,
    ),
}


def use(setup: str) -> None:
    xml_to_bronze._stats_columns, dump_history.LINEAGE_PROPERTIES = SETUPS[setup]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    posts = generated_posts(args.posts_mb)
    setups = {setup: lambda spark, setup=setup: use(setup) for setup in SETUPS}
    seconds = alternating_bronze_loads(setups, posts, args.rounds, "bronze-statistics")
    print_rounds_table(seconds, "statistics", posts.stat().st_size)


if __name__ == "__main__":
    main()
