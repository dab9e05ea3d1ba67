"""Benchmark: where the time of XML -> bronze goes, phase by phase, in one warm driver.

Each phase reads the same generated Posts.xml from a private S3Proxy: the text alone,
the census, the parse (to Spark's `noop` writer), the parse written to a plain Delta
table, and the whole bronze step both ways: census first (a manifest without ingest's
facts) and one read (ingest's size and duplicated Ids in the manifest). Rounds alternate
the phases so machine noise hits all of them. Prints a Markdown table. Run:
`.venv/bin/python benchmarks/bronze_phases.py --posts-mb 1024 --rounds 2`.
"""

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import functions as F
from run_benchmarks import (
    SITE,
    generated_posts,
    machine,
    print_speed_table,
    private_s3_server,
    upload_raw,
    warm_up,
)

from lakehouse.bronze.census import take_census
from lakehouse.bronze.xml_to_bronze import (
    DumpToLoad,
    load_dump_files,
    parse_dump_file,
    read_manifest,
)
from lakehouse.lake import Lake
from lakehouse.schemas import table_for_file
from worker.spark_session import build_local_session

POSTS = table_for_file("Posts.xml")


def phase_timers(lake: Lake, dump_id: str, rows: int) -> dict:
    """Phase name -> a function that runs it once; `round_number` picks fresh targets."""
    spark = lake.spark
    uri = lake.raw_uri(SITE, dump_id, "Posts.xml")

    def text_only(round_number):
        spark.read.text(uri).agg(F.sum(F.length("value"))).collect()

    def census(round_number):
        take_census(spark, uri, POSTS, rows)

    def parse_only(round_number):
        parse_dump_file(spark, uri, POSTS).write.format("noop").mode("overwrite").save()

    def plain_delta(round_number):
        target = f"s3a://{lake.settings.bucket}/bench/plain_{round_number}"
        parse_dump_file(spark, uri, POSTS).write.format("delta").save(target)

    def census_then_write(round_number):
        # A new site each round, so every round is a site's first load.
        site = f"census{round_number}.{SITE}"
        load_dump_files(DumpToLoad(lake, site, dump_id, datetime.now(UTC)), ["Posts.xml"])

    def one_read(round_number):
        site = f"r{round_number}.{SITE}"
        load_dump_files(DumpToLoad(lake, site, dump_id, datetime.now(UTC)), ["Posts.xml"])

    return {
        "text only (sum of line lengths)": text_only,
        "census (kind and Id of every line)": census,
        "parse to Spark's `noop` writer": parse_only,
        "parse written to a plain Delta table": plain_delta,
        "whole bronze step, census then write (manifest without ingest's facts)": (
            census_then_write
        ),
        "whole bronze step, one read (ingest's size and duplicated Ids)": one_read,
    }


def measure(posts: Path, rounds: int) -> tuple[int, dict[str, list[float]]]:
    with private_s3_server() as settings:
        lake = Lake(build_local_session(settings, app_name="bronze-phases"), settings)
        warm_up(lake)
        dump_id = "2025-01-01-phases00"
        size = upload_raw(settings, posts, dump_id)
        for round_number in range(1, rounds + 1):
            upload_raw(settings, posts, dump_id, site=f"r{round_number}.{SITE}")
            upload_raw(
                settings, posts, dump_id, site=f"census{round_number}.{SITE}", ingest_facts=False
            )
        rows = read_manifest(lake, SITE, dump_id)["rows"]["Posts.xml"]
        timers = phase_timers(lake, dump_id, rows)
        seconds = {name: [] for name in timers}
        for round_number in range(1, rounds + 1):
            for name, run in timers.items():
                started = time.monotonic()
                run(round_number)
                seconds[name].append(time.monotonic() - started)
        return size, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    size, seconds = measure(generated_posts(args.posts_mb), args.rounds)
    print(f"Machine: {machine()}; {size / 1e6:,.0f} MB Posts.xml; {args.rounds} rounds, median\n")
    print_speed_table(seconds, size, "phase")


if __name__ == "__main__":
    main()
