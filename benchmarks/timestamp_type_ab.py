"""Benchmark: the one-read XML -> bronze.posts step with Parquet timestamps as Spark's
legacy INT96 (its default) and as INT64 microseconds (the local Spark's setting since
session 21), alternating, each in a lake of its own on one private S3Proxy and one
in-process driver, a new site each round. Run:
`cd benchmarks && ../.venv/bin/python timestamp_type_ab.py --rounds 4`.
"""

import argparse

from run_benchmarks import alternating_bronze_loads, generated_posts, machine, print_rounds_table

SETTING = "spark.sql.parquet.outputTimestampType"
SETUPS = {"INT96 (Spark's default)": "INT96", "INT64 microseconds (now)": "TIMESTAMP_MICROS"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    posts = generated_posts(args.posts_mb)
    setups = {
        setup: lambda spark, value=value: spark.conf.set(SETTING, value)
        for setup, value in SETUPS.items()
    }
    seconds = alternating_bronze_loads(setups, posts, args.rounds, "timestamp-type")
    print(f"Machine: {machine()}; {posts.stat().st_size / 1e6:,.0f} MB Posts.xml\n")
    print_rounds_table(seconds, "timestamps", posts.stat().st_size)


if __name__ == "__main__":
    main()
