"""Benchmark: what writing a new site's rows into a Delta table costs, by the way it is
written, on a private S3 and Spark Connect server: look whether the slice is empty then
`replaceWhere`, `replaceWhere` alone, look then append (what `sync` does), append alone.
Each table holds three sites first; each round writes 2,000 rows of a new site. Run:
`.venv/bin/python benchmarks/write_paths.py --rounds 7` (median of all but the first 2).
"""

import argparse
import time

from private_cluster import private_spark
from pyspark.sql import functions as F
from run_benchmarks import print_rounds_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with private_spark("write-paths-", "paths") as (settings, spark, _):

        def rows(site):
            return spark.range(2000).select(
                F.lit(site).alias("site"), "id", F.xxhash64("id").alias("h")
            )

        def empty(path, site):
            spark.read.format("delta").load(path).where(F.col("site") == site).isEmpty()

        def replace(path, site):
            writer = rows(site).write.format("delta").mode("overwrite")
            writer.option("replaceWhere", f"site = '{site}'").save(path)

        def append(path, site):
            rows(site).write.format("delta").mode("append").save(path)

        ways = {
            "look, then replaceWhere": lambda p, s: (empty(p, s), replace(p, s)),
            "replaceWhere alone": replace,
            "look, then append": lambda p, s: (empty(p, s), append(p, s)),
            "append alone": append,
        }
        seconds = {way: [] for way in ways}
        for number in range(len(ways)):
            for site in ("a", "b", "c"):
                append(f"s3a://{settings.bucket}/t{number}", site)
        for round_number in range(args.rounds):
            for number, (way, write) in enumerate(ways.items()):
                started = time.monotonic()
                write(f"s3a://{settings.bucket}/t{number}", f"new{round_number}")
                seconds[way].append(time.monotonic() - started)
        print_rounds_table(seconds, "way", warm_rounds=2)


if __name__ == "__main__":
    main()
