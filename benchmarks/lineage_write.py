"""Benchmark: a refresh's writes of `bronze.row_lineage`, under one Spark setting or
another. The generated dump of refresh.py (`--posts-mb`) and its next quarter go through
the bronze steps in one warm driver against a private S3Proxy; then each round rewrites
the next quarter's lineage (bronze.posts's, then the other files' of `bronze_tables`, as
the steps do) once under each variant, alternating. A variant is Spark settings,
`KEY=VALUE` separated by spaces, set on the session for its rounds; the first is the
session's own settings. Run: `cd benchmarks && ../.venv/bin/python lineage_write.py
--posts-mb 1024 --rounds 3 --variant spark.sql.maxConcurrentOutputFileWriters=0`.
"""

import argparse
import time
from datetime import UTC, datetime

from refresh import SITE, dumps, upload_dump
from run_benchmarks import machine, print_rounds_table, private_s3_server, warm_up

from lakehouse import steps
from lakehouse.bronze.dump_history import record_lineage
from lakehouse.lake import Lake
from lakehouse.schemas import DUMP_TABLES
from worker.spark_session import build_local_session

BRONZE_STEPS = ("bronze_posts", "bronze_users", "bronze_tables")


def timed_lineage(lake: Lake, replaced: dict[str, str | None], dump_id: str) -> float:
    started = time.monotonic()
    record_lineage(lake, SITE, replaced, dump_id, held=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts-mb", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variant", action="append", default=[])
    args = parser.parse_args()
    variants = {"the session's settings": {}} | {
        text: dict(pair.split("=", 1) for pair in text.split()) for text in args.variant
    }
    first, second = dumps(args.posts_mb)
    q1, q2 = "2026-03-31-bench0001", "2026-06-30-bench0002"
    with private_s3_server() as settings:
        spark = build_local_session(settings, app_name="benchmark")
        for xml_dir, dump_id in ((first, q1), (second, q2)):
            published = datetime.strptime(dump_id[:10], "%Y-%m-%d").replace(tzinfo=UTC)
            upload_dump(settings, xml_dir, dump_id, published)
        lake = Lake(spark, settings)
        warm_up(lake)
        for dump_id in (q1, q2):
            ctx = steps.run_context(lake, SITE, dump_id)
            for name in BRONZE_STEPS:
                steps.STEPS[name](ctx)
        others = {t.name: q1 for t in DUMP_TABLES.values() if t.name not in ("posts", "users")}
        seconds: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, conf in variants.items():
                saved = {key: spark.conf.get(key, None) for key in conf}
                for key, value in conf.items():
                    spark.conf.set(key, value)
                try:
                    seconds[name].append(
                        timed_lineage(lake, {"posts": q1}, q2) + timed_lineage(lake, others, q2)
                    )
                finally:
                    for key, value in saved.items():
                        if value is None:
                            spark.conf.unset(key)
                        else:
                            spark.conf.set(key, value)
    print(f"Machine: {machine()}; Posts.xml {args.posts_mb} MB, the next quarter's lineage.\n")
    print_rounds_table(seconds, "variant", warm_rounds=0)


if __name__ == "__main__":
    main()
