"""Benchmark: what a refresh's rewrite of one site's rows costs by the table's layout, on
a private S3 and Spark Connect server: `replaceWhere` of the site in a table partitioned
by site (Delta drops the site's files by the log) beside the same in an unpartitioned
table (Delta reads the site's files to find the rows, then again to keep the others),
and in one with deletion vectors, Delta's own answer to rewriting files for a delete
(it reads them once, to mark the rows).
Each table holds two sites of `--rows` rows; each round rewrites one, alternating the
layouts. Run: `.venv/bin/python benchmarks/replace_layout.py --rows 2000000 --rounds 5`
(median of all but the first round).
"""

import argparse
import time

from private_cluster import private_spark
from pyspark.sql import functions as F
from run_benchmarks import print_rounds_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with private_spark("replace-layout-", "layout") as (settings, spark, _):

        def rows(site: str, version: int):
            text = F.sha2((F.col("id") + version).cast("string"), 256)
            return spark.range(args.rows).select(F.lit(site).alias("site"), "id", text.alias("t"))

        vectors = {"delta.enableDeletionVectors": "true"}
        layouts = {  # name: (partition columns, table properties)
            "partitioned by site": (["site"], {}),
            "unpartitioned": ([], {}),
            "unpartitioned, deletion vectors": ([], vectors),
        }
        paths = {name: f"s3a://{settings.bucket}/{number}" for number, name in enumerate(layouts)}
        for name, (partition_by, properties) in layouts.items():
            for site in ("a", "b"):
                writer = rows(site, 0).write.format("delta").mode("append").options(**properties)
                if partition_by:
                    writer = writer.partitionBy(*partition_by)
                writer.save(paths[name])
        seconds: dict[str, list[float]] = {name: [] for name in layouts}
        for version in range(1, args.rounds + 1):
            for name in layouts:
                writer = rows("a", version).write.format("delta").mode("overwrite")
                started = time.monotonic()
                writer.option("replaceWhere", "site = 'a'").save(paths[name])
                seconds[name].append(time.monotonic() - started)
        print(f"{args.rows:,} rows a site\n")
        print_rounds_table(seconds, "layout")


if __name__ == "__main__":
    main()
