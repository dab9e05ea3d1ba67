"""Benchmark: the one-read XML -> bronze.posts step with Parquet timestamps as Spark's
legacy INT96 (its default) and as INT64 microseconds (the local Spark's setting since
session 21), alternating, each in a lake of its own on one private S3Proxy and one
in-process driver, a new site each round. Run:
`cd benchmarks && ../.venv/bin/python timestamp_type_ab.py --rounds 4`.
"""

import argparse
import statistics
import time
from datetime import UTC, datetime

from run_benchmarks import SITE, generated_posts, machine, private_s3_server, upload_raw, warm_up

from lakehouse.bronze.xml_to_bronze import load_dump_files
from lakehouse.lake import Lake
from localenv.spark_session import build_local_session

SETTING = "spark.sql.parquet.outputTimestampType"
SETUPS = {"INT96 (Spark's default)": "INT96", "INT64 microseconds (now)": "TIMESTAMP_MICROS"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    dump_id = "2025-01-01-stamps00"
    with private_s3_server() as settings:
        spark = build_local_session(settings, app_name="timestamp-type")
        posts = generated_posts(args.posts_mb)
        lakes = {}
        for number, setup in enumerate(SETUPS):
            lakes[setup] = Lake(spark, settings.model_copy(update={"bucket": f"ab{number}"}))
            spark.conf.set(SETTING, SETUPS[setup])
            warm_up(lakes[setup])
            for round_number in range(args.rounds):
                upload_raw(lakes[setup].settings, posts, dump_id, site=f"r{round_number}.{SITE}")
        seconds = {setup: [] for setup in SETUPS}
        for round_number in range(args.rounds):
            for setup, lake in lakes.items():
                spark.conf.set(SETTING, SETUPS[setup])
                started = time.monotonic()
                site = f"r{round_number}.{SITE}"
                load_dump_files(lake, site, dump_id, ["Posts.xml"], datetime.now(UTC))
                seconds[setup].append(time.monotonic() - started)
    print(f"Machine: {machine()}; {posts.stat().st_size / 1e6:,.0f} MB Posts.xml\n")
    print("| timestamps | median of rounds 2+, s | MB/s | every round, s |\n|---|---|---|---|")
    for setup, values in seconds.items():
        median = statistics.median(values[1:])
        rounds = " ".join(f"{v:.2f}" for v in values)
        print(f"| {setup} | {median:.2f} | {posts.stat().st_size / 1e6 / median:.1f} | {rounds} |")


if __name__ == "__main__":
    main()
