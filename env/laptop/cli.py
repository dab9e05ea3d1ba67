"""The `lake` command behind the Makefile: emulator lifecycle, ingest, run, SQL, samples."""

import argparse
import functools
import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dump_generator import SAMPLE_SITE
from worker.error_lines import (
    USER_ERRORS,
    RunInterrupted,
    lake_settings_or_exit,
    one_line,
    quiet_query_logs,
    with_lake_tables,
)

if TYPE_CHECKING:
    from collections.abc import Callable


def cmd_s3(args) -> None:
    from worker.s3_server import local_server

    server = local_server(lake_settings_or_exit())
    if args.action == "serve":
        server.serve()
    actions: dict[str, Callable[[], str]] = {
        "start": server.start,
        "stop": server.stop,
        "status": server.status,
    }
    action = actions[args.action]
    print(action())


def cmd_spark(args) -> None:
    from laptop.spark_connect_server import local_spark_server
    from worker.s3_server import local_server

    settings = lake_settings_or_exit()
    server = local_spark_server(settings)
    if args.action == "start":
        print(local_server(settings).start(), file=sys.stderr)
    action = {"start": server.start, "stop": server.stop, "status": server.status}[args.action]
    print(action())


def cmd_airflow(args) -> None:
    from rich.console import Console

    from laptop.airflow_local import USERNAME, LocalAirflow
    from laptop.local_cluster import local_cluster
    from worker.paths import AIRFLOW_HOME

    settings = lake_settings_or_exit()
    airflow = LocalAirflow(AIRFLOW_HOME, port=args.port)
    console = Console(stderr=True)
    if args.action == "stop":
        stopped = airflow.stop()
        print(f"stopped {', '.join(stopped)}" if stopped else "Airflow is not running")
        return
    if args.action == "status":
        running = airflow.running()
        print(", ".join(f"{c} pid {p}" for c, p in running.items()) or "Airflow is not running")
        return
    settings = local_cluster(settings)
    with console.status("Starting Airflow") as status:
        airflow.start(settings, on_status=lambda text: status.update(f"Airflow: {text}"))
        status.update("Airflow: parsing dags/")
        airflow.reserialize(settings)
    print(
        f"Airflow is up: {airflow.url}  (login {USERNAME} / {airflow.password()})\n"
        f"DAGs from {airflow.dags_folder}; logs and pids in {airflow.home}\n"
        "Stop it with: make airflow-stop"
    )


def cmd_lab(args) -> None:
    from laptop.lab import LocalLab
    from worker.paths import LAB_STATE_DIR, LAKE_DIR, NOTEBOOKS_DIR
    from worker.s3_server import local_server

    lab = LocalLab(LAB_STATE_DIR, LAKE_DIR, NOTEBOOKS_DIR)
    if args.action == "stop":
        stopped = lab.stop()
        print(f"stopped {', '.join(stopped)}" if stopped else "JupyterLab is not running")
        return
    settings = lake_settings_or_exit()
    print(local_server(settings).start(), file=sys.stderr)
    info = lab.start(settings, port=args.port, writable=args.write)
    if info["note"]:
        print(info["note"], file=sys.stderr)
    access = "read and write" if info["writable"] else "read-only"
    print(
        f"JupyterLab: {info['url']}\n"
        f'Kernel "StackExchange lake (local)": Spark, `lake` and %%sql ready; the lake is '
        f"{access} there.\nStop it with: make lab-stop"
    )


def cmd_ingest(args) -> None:
    from worker.ingest.ingest_dump import ingest_dump
    from worker.ingest.site_lock import site_lock
    from worker.ingest.sources import source_for
    from worker.paths import SAMPLE_DIR, WORK_DIR
    from worker.s3_server import local_server

    settings = lake_settings_or_exit(dump_published=args.published)
    print(local_server(settings).start(), file=sys.stderr)
    source = source_for(
        args.dump,
        args.site,
        item=settings.archive_item,
        base_url=settings.archive_base_url,
        sample_dir=SAMPLE_DIR,
    )
    run_id = f"ingest-{uuid.uuid4().hex[:8]}"
    to_stderr = functools.partial(print, file=sys.stderr, flush=True)
    with site_lock(settings, source.site, run_id, wait=args.wait, log=to_stderr):
        result = ingest_dump(source, settings, WORK_DIR)
    state = "already ingested" if result.already_ingested else "ingested"
    print(f"{result.site} {result.dump_id} {state}: {result.raw_uri}")
    if result.missing:
        print(f"missing from this dump: {', '.join(result.missing)}")


def cmd_run(args) -> None:
    from laptop.local_run import format_summary, local_run

    settings = lake_settings_or_exit(dump_published=args.published)
    print(format_summary(local_run(args.dump, args.site, settings, wait=args.wait)))


def cmd_databricks_imitation(args) -> None:
    from lakehouse.target import resolve
    from laptop.databricks_imitation import IMITATION_CATALOG, run_job
    from worker.paths import NOTEBOOKS_DIR
    from worker.s3_server import local_server

    settings = lake_settings_or_exit()
    print(local_server(settings).start(), file=sys.stderr)
    job_values = {
        "site": args.site,
        "dump_id": args.dump_id,
        "run_id": args.run_id,
        "catalog": IMITATION_CATALOG,
        "raw_root": args.raw_root or resolve(settings).raw_location,
    }
    print(f"job parameters: {job_values}", file=sys.stderr)
    runs = run_job(
        NOTEBOOKS_DIR, settings, job_values, on_notebook=lambda name: print(name, flush=True)
    )
    for notebook, run in runs.items():
        print(f"{notebook} ran from {run.started:.1f} s to {run.ended:.1f} s", file=sys.stderr)
        print(f"{notebook} exit value: {run.exit_value}")
    print(
        f"done: tables in {IMITATION_CATALOG}.bronze|silver|gold, stored in s3a://{settings.bucket}"
    )


def cmd_report(args) -> None:
    from worker.report import write_site_report
    from worker.s3_server import local_server

    settings = lake_settings_or_exit()
    if not local_server(settings).answers():
        raise SystemExit(
            f"error: the S3 server at {settings.s3_endpoint} does not answer (setting "
            "LAKE_S3_ENDPOINT): start it with `make s3-start`"
        )
    print(write_site_report(settings, args.site, args.run_id, args.out))


def cmd_bundle(args) -> None:
    from worker.bundle_job import render
    from worker.paths import BUNDLE_JOBS_FILE, JOB_LIBRARIES_FILE

    BUNDLE_JOBS_FILE.write_text(render(JOB_LIBRARIES_FILE))
    print(f"wrote {BUNDLE_JOBS_FILE} from the pipeline graph")


def cmd_docs(args) -> None:
    from laptop.settings_page import write_settings_page

    print(f"wrote {write_settings_page()} from the settings' fields")


def cmd_sql(args) -> None:
    from lakehouse.runtime import open_lake
    from laptop.local_cluster import local_cluster

    lake = open_lake(local_cluster(lake_settings_or_exit()))
    # pandas ships no types, and pyspark's annotation of toPandas does not resolve for mypy
    rows: Any = lake.sql(args.query).toPandas()
    rows.to_csv(sys.stdout, index=False)


def cmd_vacuum(args) -> None:
    from lakehouse.runtime import open_lake
    from lakehouse.steps import TABLES
    from laptop.local_cluster import local_cluster

    lake = open_lake(local_cluster(lake_settings_or_exit()))
    for name in TABLES:
        if lake.exists(name):
            print(f"{name}: removed {lake.vacuum(name)} unreferenced data files")


def cmd_sample(args) -> None:
    from dump_generator import sample as sample_dump
    from dump_generator.cut import CutSpec, write_earlier_dump
    from dump_generator.revision import RevisionSpec, write_dump_revision

    if args.revise:
        xml_dir = args.out / "xml" if args.pack else args.out
        if args.cut_at:
            cut = datetime.fromisoformat(args.cut_at).replace(tzinfo=UTC)
            counts = write_earlier_dump(args.revise, xml_dir, CutSpec(cut=cut, seed=args.seed))
        else:
            counts = write_dump_revision(args.revise, xml_dir, RevisionSpec(seed=args.seed))
        print(counts)
        if args.pack:
            files = sorted(xml_dir.glob("*.xml"))
            if counts.newest_time is None:
                raise SystemExit(
                    f"error: the dump written from {args.revise} has no newest time stamp "
                    "to date its archive by"
                )
            print(sample_dump.pack_files(files, args.out / f"{args.site}.7z", counts.newest_time))
        return
    options = dict(
        site=args.site,
        questions=args.questions,
        seed=args.seed,
        line_ending="\r\n" if args.crlf else "\n",
        new_attribute=args.new_attribute,
    )
    if args.dump_date:
        options["dump_date"] = datetime.fromisoformat(args.dump_date).replace(tzinfo=UTC)
    if args.tags_format:
        options["tags_format"] = args.tags_format
    spec = (
        sample_dump.spec_for_format(args.format, **options)
        if args.format
        else sample_dump.SampleSpec(**options)
    )
    target = int(args.posts_mb * 1e6) if args.posts_mb else None
    if args.per_table:
        print(sample_dump.pack_sample_dump_per_table(spec, args.out / "xml", args.out))
    elif args.pack:
        print(sample_dump.pack_sample_dump(spec, args.out / "xml", args.out / f"{spec.site}.7z"))
    else:
        print(sample_dump.write_sample_dump(spec, args.out, target_posts_bytes=target))


def cmd_releases(args) -> None:
    from worker.ingest.archive_org import release_date, release_items

    for item in release_items(lake_settings_or_exit().archive_base_url):
        day = release_date(item)
        print(
            f"{item}\t{day:%Y-%m-%d}" if day else f"{item}\t(legacy item, last refreshed 2024-04)"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="lake", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    s3 = commands.add_parser("s3", help="the local S3 server")
    s3.add_argument("action", choices=["start", "stop", "status", "serve"])
    s3.set_defaults(handler=cmd_s3)

    spark = commands.add_parser("spark", help="the local Spark Connect server")
    spark.add_argument("action", choices=["start", "stop", "status"])
    spark.set_defaults(handler=cmd_spark)

    airflow = commands.add_parser("airflow", help="the local Airflow")
    airflow.add_argument("action", choices=["start", "stop", "status"])
    airflow.add_argument("--port", type=int, default=8080)
    airflow.set_defaults(handler=cmd_airflow)

    lab = commands.add_parser("lab", help="JupyterLab with the lake kernel")
    lab.add_argument("action", choices=["start", "stop"])
    lab.add_argument("--port", type=int, default=8888)
    lab.add_argument("--write", action="store_true", help="let the kernel write to the lake")
    lab.set_defaults(handler=cmd_lab)

    for name, handler, text in (
        ("ingest", cmd_ingest, "fetch, verify, extract and upload a dump"),
        ("run", cmd_run, "ingest a dump and run every notebook"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--dump", help="an archive.org URL or a local .7z path")
        command.add_argument("--site", help="a site name, fetched from the archive.org item")
        command.add_argument(
            "--no-wait",
            dest="wait",
            action="store_false",
            help="fail at once when another run is writing the same site, instead of waiting",
        )
        command.add_argument(
            "--published",
            help="when a local archive was published (YYYY-MM-DD), where nothing else says: "
            "the same as LAKE_DUMP_PUBLISHED",
        )
        command.set_defaults(handler=handler)

    imitation = commands.add_parser(
        "databricks-imitation",
        help="run every notebook as a Databricks job would: widgets, catalog names, one Spark",
    )
    imitation.add_argument("--site", default=SAMPLE_SITE)
    imitation.add_argument("--dump-id", default="", help="default: the latest ingested")
    imitation.add_argument("--run-id", default="")
    imitation.add_argument("--raw-root", default="", help="default: this lake's raw/")
    imitation.set_defaults(handler=cmd_databricks_imitation)

    report = commands.add_parser("report", help="write the overview page of a site's gold tables")
    report.add_argument("--site", default=SAMPLE_SITE)
    report.add_argument("--out", type=Path, required=True)
    report.add_argument("--run-id", default="manual")
    report.set_defaults(handler=cmd_report)

    docs = commands.add_parser("docs", help="write docs/settings.md from the settings' fields")
    docs.set_defaults(handler=cmd_docs)

    bundle = commands.add_parser("bundle", help="render the bundle's jobs from the graph")
    bundle.set_defaults(handler=cmd_bundle)

    sql = commands.add_parser("sql", help="run Spark SQL on the lake, print CSV")
    sql.add_argument("query")
    sql.set_defaults(handler=cmd_sql)

    vacuum = commands.add_parser(
        "vacuum",
        help="remove data files no commit references, once older than Delta's retention",
    )
    vacuum.set_defaults(handler=cmd_vacuum)

    sample = commands.add_parser("sample", help="write a generated dump")
    sample.add_argument("--out", type=Path, required=True)
    sample.add_argument("--site", default=SAMPLE_SITE)
    sample.add_argument("--questions", type=int, default=400)
    sample.add_argument("--posts-mb", type=float, help="grow Posts.xml to this size instead")
    sample.add_argument("--seed", type=int, default=42)
    sample.add_argument("--crlf", action="store_true")
    sample.add_argument("--tags-format", choices=["angle", "pipe", "mixed"])
    sample.add_argument(
        "--format", help="the dump format of this release, e.g. 2025-06 (docs/dumps.md)"
    )
    sample.add_argument("--new-attribute", help="an attribute no schema knows, on each Q and A")
    sample.add_argument("--dump-date", help="the dump's date, e.g. 2026-06-30")
    sample.add_argument("--pack", action="store_true", help="also pack <site>.7z")
    sample.add_argument(
        "--per-table", action="store_true", help="pack <site>-<Table>.7z, one per table"
    )
    sample.add_argument(
        "--revise",
        type=Path,
        metavar="SEED_DIR",
        help="write the next quarter of the dump whose XML files are in SEED_DIR",
    )
    sample.add_argument(
        "--cut-at",
        metavar="DATE",
        help="with --revise: write instead that dump as it stood at DATE (YYYY-MM-DD)",
    )
    sample.set_defaults(handler=cmd_sample)

    releases = commands.add_parser("releases", help="list the archive.org dump releases")
    releases.set_defaults(handler=cmd_releases)

    args = parser.parse_args(argv)
    quiet_query_logs()
    try:
        args.handler(args)
        # delta-rs 1.6.6 (the run summary) sometimes aborts in interpreter teardown,
        # turning a finished command into exit 134; leave directly once all is written.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    except KeyboardInterrupt:
        print("interrupted: nothing is half-written; run the command again", file=sys.stderr)
        raise SystemExit(130) from None
    except RunInterrupted as error:
        print(f"interrupted: {error}", file=sys.stderr)
        raise SystemExit(130) from None
    except Exception as error:  # One clear line for the user; the notebook has the rest.
        if isinstance(error, _user_errors()):
            raise SystemExit(f"error: {with_lake_tables(one_line(error))}") from None
        raise


def _user_errors() -> tuple[type[Exception], ...]:
    from pyspark.errors import PySparkException

    return (PySparkException, *USER_ERRORS)


if __name__ == "__main__":
    main()
