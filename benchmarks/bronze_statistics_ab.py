"""Benchmark: the one-read XML -> bronze.posts step with Delta's per-file statistics as
before session 19 (every number and date of bronze, every column of row_lineage) and as
now (site, Id and dates; lineage keys), alternating, each in a lake of its own on one
private S3Proxy and one in-process driver, a new site each round. Run:
`cd benchmarks && ../.venv/bin/python bronze_statistics_ab.py --rounds 5`.
"""

import argparse
import statistics
import time
from datetime import UTC, datetime

from run_benchmarks import SITE, generated_posts, private_s3_server, upload_raw, warm_up

import lakehouse.bronze.dump_history as dump_history
import lakehouse.bronze.xml_to_bronze as xml_to_bronze
from lakehouse.lake import Lake
from lakehouse.schemas import INT, LONG, TIMESTAMP
from localenv.spark_session import build_local_session


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
    dump_id = "2025-01-01-stats00"
    with private_s3_server() as settings:
        spark = build_local_session(settings, app_name="bronze-statistics")
        posts = generated_posts(args.posts_mb)
        lakes = {}
        for number, setup in enumerate(SETUPS):
            lakes[setup] = Lake(spark, settings.model_copy(update={"bucket": f"ab{number}"}))
            use(setup)
            warm_up(lakes[setup])
            for round_number in range(args.rounds):
                upload_raw(lakes[setup].settings, posts, dump_id, site=f"r{round_number}.{SITE}")
        seconds = {setup: [] for setup in SETUPS}
        for round_number in range(args.rounds):
            for setup, lake in lakes.items():
                use(setup)
                started = time.monotonic()
                site = f"r{round_number}.{SITE}"
                xml_to_bronze.load_dump_files(lake, site, dump_id, ["Posts.xml"], datetime.now(UTC))
                seconds[setup].append(time.monotonic() - started)
        print("| statistics | median of rounds 2+, s | every round, s |\n|---|---|---|")
        for setup, values in seconds.items():
            rounds = " ".join(f"{v:.2f}" for v in values)
            print(f"| {setup} | {statistics.median(values[1:]):.2f} | {rounds} |")


if __name__ == "__main__":
    main()
