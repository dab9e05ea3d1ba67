"""Benchmarks: the stages of a local run on the sample, and XML -> bronze on a large
generated Posts.xml beside Spark's own XML reader with schema inference.

Everything runs against a private S3Proxy over a temporary folder (never ./lake).
Run: `make benchmark` (or `.venv/bin/python benchmarks/run_benchmarks.py --posts-mb 1024`).
It prints a Markdown report for BENCHMARKS.md.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psutil

from dump_generator.sample import SampleSpec, write_sample_dump
from lakehouse.raw_layout import row_ids_file
from lakehouse.schemas import table_for_file
from lakehouse.settings import LakeSettings
from laptop.ports import free_port
from worker.ingest.ingest_dump import manifest_file_facts
from worker.ingest.raw_store import ensure_bucket, s3_client, upload_file, write_manifest
from worker.ingest.xml_check import XmlFileFacts, inspect_xml
from worker.paths import REPO_ROOT, RUNS_DIR
from worker.s3_server import server_for

BENCH_DATA = REPO_ROOT / "data" / "bench"
SITE = "bench.example.com"
WARM_UP_SITE, WARM_UP_MB = "warm-up.example.com", 16


class PeakRss:
    """Samples the peak resident memory of a process (the Spark driver JVM) in a thread."""

    def __init__(self, pid: int):
        self.process, self.peak, self._stop = psutil.Process(pid), 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


@contextmanager
def private_s3_server() -> Iterator[LakeSettings]:
    """A private S3Proxy over a temporary folder (never ./lake), stopped afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        settings = LakeSettings(s3_endpoint=f"http://127.0.0.1:{free_port()}", bucket="bench")
        server = server_for(settings, Path(scratch) / "lake", Path(scratch) / "state")
        server.start()
        try:
            yield settings
        finally:
            server.stop()


def print_speed_table(seconds: dict[str, list[float]], size_bytes: int, first_column: str):
    """One Markdown row per entry: the median of its rounds, in seconds and MB/s."""
    print(f"| {first_column} | seconds | MB/s |\n|---|---|---|")
    for label, rounds in seconds.items():
        median = statistics.median(rounds)
        print(f"| {label} | {median:.2f} | {size_bytes / 1e6 / median:.1f} |")


def alternating_bronze_loads(
    setups: dict[str, Callable], posts: Path, rounds: int, app_name: str
) -> dict[str, list[float]]:
    """The one-read XML -> bronze.posts step under each setup (a function that applies it
    to the session), in alternating rounds, each setup in a lake of its own on one private
    S3Proxy and one in-process driver, a new site each round: each round's seconds."""
    from lakehouse.bronze import xml_to_bronze
    from lakehouse.lake import Lake
    from worker.spark_session import build_local_session

    dump_id = "2025-01-01-alternate"
    with private_s3_server() as settings:
        spark = build_local_session(settings, app_name=app_name)
        lakes = {}
        for number, (setup, use) in enumerate(setups.items()):
            lakes[setup] = Lake(spark, settings.model_copy(update={"bucket": f"ab{number}"}))
            use(spark)
            warm_up(lakes[setup])
            for round_number in range(rounds):
                upload_raw(lakes[setup].settings, posts, dump_id, site=f"r{round_number}.{SITE}")
        seconds = {setup: [] for setup in setups}
        for round_number in range(rounds):
            for setup, lake in lakes.items():
                setups[setup](spark)
                site = f"r{round_number}.{SITE}"
                started = time.monotonic()
                xml_to_bronze.load_dump_files(
                    xml_to_bronze.DumpToLoad(lake, site, dump_id, datetime.now(UTC)), ["Posts.xml"]
                )
                seconds[setup].append(time.monotonic() - started)
    return seconds


def print_rounds_table(
    seconds: dict[str, list[float]],
    first_column: str,
    size_bytes: int | None = None,
    warm_rounds: int = 1,
):
    """One Markdown row per setup: the median of the rounds after the first `warm_rounds`
    (which warm the JVM's code for that setup; all of them where there are no more), in
    seconds and, given the bytes read, MB/s, then every round."""
    median_of = f"median of rounds {warm_rounds + 1}+, s" if warm_rounds else "median, s"
    speed = ["MB/s"] if size_bytes else []
    columns = [first_column, median_of, *speed, "every round, s"]
    print("| " + " | ".join(columns) + " |\n" + "|---" * len(columns) + "|")
    for setup, rounds in seconds.items():
        median = statistics.median(rounds[warm_rounds:] or rounds)
        speed = [f"{size_bytes / 1e6 / median:.1f}"] if size_bytes else []
        every = " ".join(f"{value:.2f}" for value in rounds)
        print("| " + " | ".join([setup, f"{median:.2f}", *speed, every]) + " |")


def machine() -> str:
    memory = psutil.virtual_memory().total / (1 << 30)
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def stage_timings(settings: LakeSettings) -> dict:
    """`lake run` on the sample against the private server; its summary has the seconds."""
    environment = {
        **os.environ,
        "LAKE_S3_ENDPOINT": settings.s3_endpoint,
        "LAKE_BUCKET": settings.bucket,
    }
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "laptop.cli", "run"],
        env=environment,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    total = time.monotonic() - started
    latest = max(RUNS_DIR.glob("*/summary.json"), key=lambda p: p.stat().st_mtime)
    seconds = json.loads(latest.read_text())["seconds"]
    return {"total": round(total, 1), **seconds}


def generated_posts(megabytes: int) -> Path:
    """A generated Posts.xml of at least `megabytes` MB, kept in data/bench for re-runs."""
    directory = BENCH_DATA / f"posts-{megabytes}mb"
    posts = directory / "Posts.xml"
    if not posts.exists():
        write_sample_dump(
            SampleSpec(site=SITE, seed=1), directory, target_posts_bytes=megabytes * 10**6
        )
    return posts


def upload_row_ids(s3, bucket: str, folder: str, facts: XmlFileFacts) -> None:
    """Place the file's list of Ids beside it, as ingest does, where ingest would."""
    if facts.row_ids is not None:
        key = f"{folder}/{row_ids_file(facts.file_name)}"
        s3.put_object(Bucket=bucket, Key=key, Body=facts.row_ids)


def upload_raw(
    settings, posts: Path, dump_id: str, site: str = SITE, ingest_facts: bool = True
) -> int:
    """Upload Posts.xml as ingest would (with the list of its Ids); without
    `ingest_facts`, its manifest has only the row count, as before ingest recorded the
    size and duplicated Ids (bronze then takes its own census)."""
    s3 = s3_client(settings)
    ensure_bucket(s3, settings.bucket)
    facts = inspect_xml(posts, table_for_file("Posts.xml"))
    upload_file(s3, settings.bucket, f"raw/{site}/{dump_id}/Posts.xml", posts)
    if ingest_facts:
        upload_row_ids(s3, settings.bucket, f"raw/{site}/{dump_id}", facts)
    file_facts = (
        manifest_file_facts([facts]) if ingest_facts else {"rows": {"Posts.xml": facts.rows}}
    )
    manifest = {"site": site, "dump_id": dump_id, **file_facts, "missing": []}
    write_manifest(s3, settings.bucket, site, dump_id, manifest)
    return facts.bytes


def warm_up(lake) -> float:
    """Load a small generated Posts.xml through the whole bronze step; return the seconds.

    A fresh JVM spends its first seconds loading and compiling Spark's and Delta's code:
    paying that first lets what is timed afterwards run warm.
    """
    from lakehouse.bronze.xml_to_bronze import DumpToLoad, load_dump_files

    dump_id = "2025-01-01-warmup00"
    upload_raw(lake.settings, generated_posts(WARM_UP_MB), dump_id, site=WARM_UP_SITE)
    started = time.monotonic()
    load_dump_files(DumpToLoad(lake, WARM_UP_SITE, dump_id, datetime.now(UTC)), ["Posts.xml"])
    return round(time.monotonic() - started, 1)


def xml_to_bronze(settings, spark, posts: Path, dump_id: str) -> dict:
    from lakehouse.bronze.xml_to_bronze import DumpToLoad, load_dump_files, parse_dump_file
    from lakehouse.lake import Lake

    lake = Lake(spark, settings)
    results = {"warm_up_s": warm_up(lake)}

    size = upload_raw(settings, posts, dump_id)
    uri = lake.raw_uri(SITE, dump_id, "Posts.xml")
    driver = spark.sparkContext._gateway.proc.pid  # the driver JVM
    results["mb"] = round(size / 1e6)

    started = time.monotonic()
    parsed = parse_dump_file(spark, uri, table_for_file("Posts.xml"))
    parsed.write.format("noop").mode("overwrite").save()
    results["ours_parse_s"] = time.monotonic() - started
    results["partitions"] = parsed.rdd.getNumPartitions()

    with PeakRss(driver) as rss:
        started = time.monotonic()
        load = load_dump_files(DumpToLoad(lake, SITE, dump_id, datetime.now(UTC)), ["Posts.xml"])[0]
        results["ours_bronze_s"] = time.monotonic() - started
    results["ours_driver_peak_mb"] = round(rss.peak / 1e6)
    results["rows"] = load.rows_loaded

    started = time.monotonic()
    load_dump_files(DumpToLoad(lake, SITE, dump_id, datetime.now(UTC)), ["Posts.xml"])
    results["ours_reload_s"] = time.monotonic() - started

    with PeakRss(driver) as rss:
        started = time.monotonic()
        naive = spark.read.format("xml").option("rowTag", "row").load(uri)
        naive.write.format("delta").mode("overwrite").save(
            f"s3a://{settings.bucket}/bench/naive_{dump_id}"
        )
        results["naive_delta_s"] = time.monotonic() - started
    results["naive_driver_peak_mb"] = round(rss.peak / 1e6)
    results["naive_partitions"] = naive.rdd.getNumPartitions()
    for key in ("ours_parse_s", "ours_bronze_s", "ours_reload_s", "naive_delta_s"):
        results[key.replace("_s", "_mb_per_s")] = round(size / 1e6 / results[key], 1)
        results[key] = round(results[key], 1)
    return results


def one_size(megabytes: int) -> dict:
    """XML -> bronze for one size, in this process: a fresh driver JVM per size, so its
    peak memory can be compared across sizes."""
    from worker.spark_session import build_local_session

    with private_s3_server() as settings:
        spark = build_local_session(settings, app_name="benchmark")
        posts = generated_posts(megabytes)
        return xml_to_bronze(settings, spark, posts, f"2025-01-01-bench{megabytes:04d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts-mb", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--skip-stages", action="store_true")
    parser.add_argument("--one-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_size:
        print(json.dumps(one_size(args.one_size)))
        sys.stdout.flush()
        os._exit(0)

    report = {"machine": machine(), "date": f"{datetime.now(UTC):%Y-%m-%d}"}
    if not args.skip_stages:
        with private_s3_server() as settings:
            report["stages"] = stage_timings(settings)
        print(json.dumps(report["stages"]), file=sys.stderr, flush=True)
    report["xml_to_bronze"] = []
    generated_posts(WARM_UP_MB)  # generated outside the timed processes, as each size is
    for megabytes in args.posts_mb:
        generated_posts(megabytes)
        result = subprocess.run(
            [sys.executable, __file__, "--one-size", str(megabytes)],
            capture_output=True,
            text=True,
            check=True,
        )
        report["xml_to_bronze"].append(json.loads(result.stdout.strip().splitlines()[-1]))
        print(json.dumps(report["xml_to_bronze"][-1]), file=sys.stderr, flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
