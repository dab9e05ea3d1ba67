"""Benchmark: a quarterly refresh of a site beside the reload a user would do instead.

The generator writes a dump of all eight tables (Posts.xml grown to `--posts-mb`) and,
from it, the next quarter (rows added, edited and deleted). In one warm driver against a
private S3Proxy: the first dump is loaded through every step, then the next one as a
refresh; the baseline is the next dump loaded alone into an empty lake (drop the site
and load it again), which gives the same current tables. Run:
`.venv/bin/python benchmarks/refresh.py --posts-mb 64`. Prints Markdown tables: the runs,
then the refresh's and the reload's seconds per step.
"""

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

from run_benchmarks import BENCH_DATA, machine, private_s3_server, upload_row_ids, warm_up

from dump_generator.revision import RevisionSpec, write_dump_revision
from dump_generator.sample import SampleSpec, write_sample_dump
from lakehouse import steps
from lakehouse.graph import in_dependency_order
from lakehouse.lake import Lake
from lakehouse.schemas import DUMP_TABLES
from worker.ingest.ingest_dump import manifest_file_facts
from worker.ingest.raw_store import ensure_bucket, s3_client, upload_file, write_manifest
from worker.ingest.xml_check import inspect_xml
from worker.spark_session import build_local_session

SITE = "refresh.example.com"


def dumps(megabytes: int) -> tuple[Path, Path]:
    """A generated dump and its next quarter, kept in data/bench for re-runs."""
    first, second = (
        BENCH_DATA / f"refresh-{megabytes}mb" / "q1",
        BENCH_DATA / f"refresh-{megabytes}mb" / "q2",
    )
    if not (second / "Tags.xml").exists():
        write_sample_dump(
            SampleSpec(site=SITE, seed=2), first, target_posts_bytes=megabytes * 10**6
        )
        write_dump_revision(first, second, RevisionSpec(seed=2, new_questions=megabytes * 20))
    return first, second


def upload_dump(settings, xml_dir: Path, dump_id: str, published: datetime) -> None:
    """Place a dump in raw as ingest would: its files, each one's list of Ids, and the
    manifest's facts (rows, sha1, size, duplicated Ids); unpacked (7z is not timed)."""
    s3 = s3_client(settings)
    ensure_bucket(s3, settings.bucket)
    facts = []
    for name, table in DUMP_TABLES.items():
        facts.append(inspect_xml(xml_dir / name, table))
        upload_file(s3, settings.bucket, f"raw/{SITE}/{dump_id}/{name}", xml_dir / name)
        upload_row_ids(s3, settings.bucket, f"raw/{SITE}/{dump_id}", facts[-1])
    manifest = {
        "site": SITE,
        "dump_id": dump_id,
        "published": published.isoformat(),
        "missing": [],
        **manifest_file_facts(facts),
    }
    write_manifest(s3, settings.bucket, SITE, dump_id, manifest)


def timed_run(lake: Lake, dump_id: str) -> dict[str, float]:
    """Seconds of each step, in graph order, and of the whole run."""
    ctx = steps.run_context(lake, SITE, dump_id)
    seconds = {}
    for task in in_dependency_order(steps.PIPELINE):
        started = time.monotonic()
        steps.STEPS[task.name](ctx)
        seconds[task.name] = round(time.monotonic() - started, 1)
    seconds["run"] = round(sum(seconds.values()), 1)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts-mb", type=int, default=64)
    args = parser.parse_args()
    first, second = dumps(args.posts_mb)
    q1, q2 = "2026-03-31-bench0001", "2026-06-30-bench0002"
    with private_s3_server() as settings:
        spark = build_local_session(settings, app_name="benchmark")
        fresh = settings.model_copy(update={"bucket": f"{settings.bucket}-fresh"})
        for lake_settings, loads in (
            (settings, [(first, q1), (second, q2)]),
            (fresh, [(second, q2)]),
        ):
            for xml_dir, dump_id in loads:
                upload_dump(
                    lake_settings,
                    xml_dir,
                    dump_id,
                    datetime.strptime(dump_id[:10], "%Y-%m-%d").replace(tzinfo=UTC),
                )
        lake, fresh_lake = Lake(spark, settings), Lake(spark, fresh)
        warm = warm_up(lake)
        first_load = timed_run(lake, q1)
        refresh = timed_run(lake, q2)
        again = timed_run(lake, q2)
        reload = timed_run(fresh_lake, q2)
    size = sum((second / name).stat().st_size for name in DUMP_TABLES) / 1e6
    print(
        f"Machine: {machine()}; warm-up {warm} s; the next quarter's dump is {size:.0f} MB "
        f"of XML (Posts.xml {args.posts_mb} MB before it).\n"
    )
    print("| run | seconds | vs reload |\n|---|---|---|")
    for label, seconds in (
        ("first load of Q1", first_load),
        ("refresh Q1 -> Q2", refresh),
        ("Q2 again (nothing to do)", again),
        ("baseline: Q2 alone into an empty lake", reload),
    ):
        print(f"| {label} | {seconds['run']} | {seconds['run'] / reload['run']:.2f}x |")
    print("\n| step | refresh s | reload s | refresh / reload |\n|---|---|---|---|")
    for name in refresh:
        ratio = refresh[name] / reload[name] if reload[name] else float("nan")
        print(f"| {name} | {refresh[name]} | {reload[name]} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
