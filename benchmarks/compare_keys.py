"""Benchmark: a sync's comparison (`lakehouse.delta_merge.side_by_side`, then its counts)
joined on a site's keys with the site, as the sync does, beside the same on the Id alone:
every row of a scope shares its site, so the join sorts and moves a string that tells no
row from another (where the site is read from the data; a literal site, as bronze's
comparison by key has, Spark's optimizer folds out of the join already). The stored side
is a Delta table partitioned by site, the source a table of the same Ids shifted (some
new, some gone), one warm in-process driver against a private S3Proxy; rounds alternate.
Run: `cd benchmarks && ../.venv/bin/python compare_keys.py --rows 6500000 --rounds 4`.
"""

import argparse
import time

from pyspark.sql import functions as F
from run_benchmarks import machine, print_rounds_table, private_s3_server

from lakehouse.delta_merge import _compare, side_by_side
from worker.ingest.raw_store import ensure_bucket, s3_client
from worker.spark_session import build_local_session

SITE = "refresh.example.com"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=6_500_000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    with private_s3_server() as settings:
        ensure_bucket(s3_client(settings), settings.bucket)
        spark = build_local_session(settings, app_name="benchmark")
        stored_path, source_path = (
            f"s3a://{settings.bucket}/{name}" for name in ("stored", "source")
        )
        site = F.lit(SITE).alias("site")
        spark.range(args.rows).select(site, "id", F.xxhash64("id").alias("_row_hash")).write.format(
            "delta"
        ).partitionBy("site").save(stored_path)
        shift = args.rows // 65
        source_ids = spark.range(shift, args.rows + shift)
        source_ids.select(site, "id", F.lit(None).cast("bigint").alias("_row_hash")).write.format(
            "delta"
        ).save(source_path)
        stored = spark.read.format("delta").load(stored_path).where(F.col("site") == SITE)
        source = spark.read.format("delta").load(source_path)
        variants = {"site and Id (the sync)": ["site", "id"], "the Id alone": ["id"]}
        seconds: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, keys in variants.items():
                started = time.monotonic()
                counts = _compare(side_by_side(source, stored, keys))
                seconds[name].append(time.monotonic() - started)
                assert counts.gone == shift, counts
    print(f"Machine: {machine()}; {args.rows:,} rows a side, {shift:,} gone.\n")
    print_rounds_table(seconds, "join keys")


if __name__ == "__main__":
    main()
