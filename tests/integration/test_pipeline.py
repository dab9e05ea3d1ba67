"""The whole pipeline in-process over the test lake: re-runs change nothing, the lake
survives emulator restarts and crashes, and another engine reads it from disk."""

import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pipeline_helpers import PIPED_SITE, ingest_sample, run_pipeline, site_counts, versions
from pyspark.sql import functions as F
from real_dump_helpers import lake_in_bucket

from lakehouse.graph import in_dependency_order
from lakehouse.steps import PIPELINE
from lakehouse.tables import STEP_RUNS
from worker.step_state import steps_with_work

SITE = PIPED_SITE
EVERY_STEP = [task.name for task in in_dependency_order(PIPELINE)]


@pytest.fixture(scope="module")
def first_run(piped_site):
    return piped_site


def test_every_table_has_the_sites_rows(first_run, lake):
    counts = site_counts(lake, SITE)
    assert counts["bronze.posts"] == first_run.rows["Posts.xml"]
    assert counts["bronze.users"] == first_run.rows["Users.xml"]
    assert counts["bronze.post_history"] == first_run.rows["PostHistory.xml"]
    assert counts["silver.posts"] == counts["bronze.posts_valid"] == counts["bronze.posts"]
    assert (
        counts["gold.most_popular_tags"] > 0
        and counts["gold.posts_users"] == counts["silver.users"]
    )


def test_airflow_restarts_the_medallion_on_a_dump_in_the_lake_only_while_a_step_lacks_it(
    first_run, settings
):
    """What produce_data_assets decides for a dump it finds already ingested (target
    local), read from this lake: the piped dump has run every step; a later dump of the
    site has not; an earlier one never rolls the site back."""
    from types import SimpleNamespace

    from dag_loading import DAGS_FOLDER

    sys.path.insert(0, str(DAGS_FOLDER))
    from orchestration.raw_events import skip_reason

    def reason(dump_id: str) -> str | None:
        ingested = SimpleNamespace(site=SITE, dump_id=dump_id, raw_uri="s3://lake/raw/x")
        return skip_reason(settings, ingested, "local")

    assert "every step has run on it; no Asset event" in reason(first_run.dump_id)
    assert reason("2999-01-01-later") is None
    assert f"the newer dump {first_run.dump_id}" in reason("1999-01-01-earlier")


def test_tables_are_partitioned_by_what_a_refresh_rewrites(first_run, lake):
    """A refresh rewrites a site's rows (of some tables, for the lineage and the rejected
    lines): partitioned so, a table's rewrite drops the old files without reading them.
    Statistics cost write time: bronze keeps them for the Id and the dates, the lineage,
    created by an append, for the Id."""

    def detail(name: str):
        return lake.spark.sql(f"DESCRIBE DETAIL {lake.sql_name(name)}").first()

    def stats_columns(name: str) -> list[str]:
        return detail(name)["properties"]["delta.dataSkippingStatsColumns"].split(",")

    by_site = [
        "bronze.posts",
        "bronze.votes",
        "bronze.posts_valid",
        "silver.posts",
        "gold.posts_users",
    ]
    assert {name: detail(name)["partitionColumns"] for name in by_site} == {
        name: ["site"] for name in by_site
    }
    for name in ("bronze.row_lineage", "bronze.rejected_rows"):
        assert detail(name)["partitionColumns"] == ["site", "table_name"], name
    assert stats_columns("bronze.row_lineage") == ["id"]
    assert stats_columns("bronze.posts")[:2] == ["id", "creation_date"]
    assert "score" not in stats_columns("bronze.posts")


def test_bronze_files_store_dates_as_int64_and_long_texts_without_a_dictionary(first_run, lake, s3):
    """The local Spark's Parquet settings (worker.spark_session), each worth a few
    percent of a bronze write: INT64 dates, not Spark's default INT96, and no dictionary
    for the nearly unique long texts, where other columns keep theirs."""
    path = lake.read("bronze.posts").where(F.col("site") == SITE).inputFiles()[0]
    bucket, key = path.removeprefix("s3a://").split("/", 1)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    metadata = pq.ParquetFile(io.BytesIO(body)).metadata
    columns = {
        metadata.row_group(0).column(i).path_in_schema: metadata.row_group(0).column(i)
        for i in range(metadata.num_columns)
    }
    assert columns["creation_date"].physical_type == "INT64"
    assert not columns["body"].has_dictionary_page
    assert columns["dump_id"].has_dictionary_page


def test_rerunning_the_same_dump_changes_no_table(first_run, lake, settings, tmp_path, monkeypatch):
    from lakehouse import step_runs

    before_versions, before_counts = versions(lake), site_counts(lake, SITE)
    again = ingest_sample(settings, tmp_path, SITE)
    assert again.already_ingested
    skipped = run_pipeline(lake, SITE, tracks_changes=True)
    assert versions(lake) == before_versions  # every step skipped: not one commit
    assert site_counts(lake, SITE) == before_counts
    assert skipped.changed_tables == {}  # and no Asset event for Databricks to send
    # New code runs every step again; on the same data, only their records change.
    monkeypatch.setattr(step_runs, "code_digest", lambda: "the next release")
    assert steps_with_work(settings, SITE, first_run.dump_id) == EVERY_STEP
    rerun = run_pipeline(lake, SITE, tracks_changes=True)
    assert set(rerun.changed_tables) == {step_runs.STEP_RUNS}
    after, after_counts = versions(lake), site_counts(lake, SITE)
    assert after.pop(step_runs.STEP_RUNS) > before_versions.pop(step_runs.STEP_RUNS)
    assert after_counts.pop(step_runs.STEP_RUNS) > before_counts.pop(step_runs.STEP_RUNS)
    assert after == before_versions
    assert after_counts == before_counts
    assert steps_with_work(settings, SITE, first_run.dump_id) == []


def test_what_a_run_has_to_do_is_known_before_any_spark(first_run, settings):
    assert steps_with_work(settings, SITE, "2099-01-01-newer") == EVERY_STEP
    assert steps_with_work(settings, "never-run.example.com", first_run.dump_id) == EVERY_STEP


def test_a_step_downstream_of_an_interrupted_one_runs_again(lake, settings, tmp_path):
    """Data quality dies after changing bronze.posts_valid: silver must not trust its old
    key and skip, and once data quality has run again so must silver. Nor is data
    quality done before the dump's counts are in bronze.dq_results."""
    from lakehouse import steps
    from lakehouse.step_runs import NO_KEYS, record, recorded_keys

    site = "interrupted.example.com"
    ingest_sample(settings, tmp_path, site, questions=10)
    ctx = steps.run_context(lake, site)
    for name in ("bronze_posts", "bronze_users", "bronze_posts_dataquality", "silver_posts"):
        steps.STEPS[name](ctx)
    posts = ctx.site_rows("bronze.posts").count()
    gone = ctx.site_rows("bronze.posts_valid").first()["id"]
    record(lake, site, "bronze_posts_dataquality", NO_KEYS, "killed-run")
    lake.spark.sql(
        f"DELETE FROM {lake.sql_name('bronze.posts_valid')} WHERE site = '{site}' AND id = {gone}"
    )

    assert steps.silver_posts(ctx).count() == posts - 1
    assert recorded_keys(lake, site)["silver_posts"] == NO_KEYS
    steps.bronze_posts_dataquality(ctx)
    assert steps.silver_posts(ctx).where(F.col("id") == gone).count() == 1
    assert NO_KEYS not in recorded_keys(lake, site).values()
    # A run that stopped before data quality recorded the dump's counts is not done.
    data_quality = "bronze_posts_dataquality"
    assert data_quality not in steps_with_work(settings, site, ctx.dump_id)
    lake.spark.sql(f"DELETE FROM {lake.sql_name('bronze.dq_results')} WHERE site = '{site}'")
    assert data_quality in steps_with_work(settings, site, ctx.dump_id)


def test_step_records_from_before_output_keys_are_read_and_extended(spark, settings, s3):
    """A lake whose bronze.step_runs predates `output_key`: its rows stand for what their
    `inputs_key` says, and the next record adds the column."""
    from lakehouse.step_runs import StepKeys, record, recorded_keys

    lake, site = lake_in_bucket(spark, settings, f"{settings.bucket}-old-records"), "old.example"
    before = "site string, step string, inputs_key string, run_id string, recorded_at timestamp"
    row = (site, "bronze_posts", "k1", "run-1", datetime.now(UTC))
    lake.append(spark.createDataFrame([row], before), STEP_RUNS)
    assert recorded_keys(lake, site) == {"bronze_posts": StepKeys("k1", "k1")}
    record(lake, site, "bronze_users", StepKeys("k2", "k0"), "run-2")
    assert recorded_keys(lake, site) == {
        "bronze_posts": StepKeys("k1", "k1"),
        "bronze_users": StepKeys("k2", "k0"),
    }


def test_a_file_whose_table_holds_its_dump_is_not_read_again(lake, settings, s3, tmp_path):
    from lakehouse import steps

    site = "again.example.com"
    ingested = ingest_sample(settings, tmp_path, site, questions=15)
    ctx = steps.run_context(lake, site)
    loaded = steps.bronze_posts(ctx)
    version = lake.current_version("bronze.posts")
    # Gone from raw: a second load that read the file again would fail.
    s3.delete_object(Bucket=settings.bucket, Key=f"raw/{site}/{ingested.dump_id}/Posts.xml")
    assert steps.bronze_posts(ctx) == loaded
    assert lake.current_version("bronze.posts") == version
    assert loaded.rows_loaded == ingested.rows["Posts.xml"]


def test_a_first_load_cut_before_its_record_is_redone_without_a_doubled_row(
    lake, settings, tmp_path
):
    """Killed after writing bronze.posts and its lineage, before noting the load: the next
    run is still the table's first load of the site, and replaces what the cut one left."""
    from lakehouse import steps
    from lakehouse.tables import DUMP_LOADS, ROW_LINEAGE

    site = "cut-first-load.example.com"
    ingested = ingest_sample(settings, tmp_path, site, questions=10)
    ctx = steps.run_context(lake, site)
    steps.bronze_posts(ctx)
    lake.spark.sql(f"DELETE FROM {lake.sql_name(DUMP_LOADS)} WHERE site = '{site}'")

    loaded = steps.bronze_posts(steps.run_context(lake, site))
    posts = ingested.rows["Posts.xml"]
    lineage = lake.read(ROW_LINEAGE).where(F.col("site") == site)
    assert loaded.rows_loaded == ctx.site_rows("bronze.posts").count() == posts
    assert lineage.count() == lineage.select("table_name", "id").distinct().count() == posts
    assert lake.read(DUMP_LOADS).where(F.col("site") == site).count() == 1


def test_a_lineage_that_names_a_last_seen_dump_on_live_rows_is_cleared_on_its_next_write(
    lake, settings, tmp_path
):
    """Lineage written before 2026-12 named the last-seen dump on every row; now only a
    deleted row names one, so the next write of a table's lineage clears it on live rows."""
    from lakehouse import steps
    from lakehouse.bronze.dump_history import record_lineage
    from lakehouse.tables import ROW_LINEAGE

    site = "old-lineage.example.com"
    ingested = ingest_sample(settings, tmp_path, site, questions=5)
    steps.bronze_posts(steps.run_context(lake, site))
    lake.spark.sql(
        f"UPDATE {lake.sql_name(ROW_LINEAGE)} SET last_seen_dump_id = first_seen_dump_id "
        f"WHERE site = '{site}'"
    )
    record_lineage(lake, site, {"posts": None}, ingested.dump_id, True)
    posts = lake.read(ROW_LINEAGE).where((F.col("site") == site) & (F.col("table_name") == "posts"))
    assert posts.count() == ingested.rows["Posts.xml"]
    assert posts.where(F.col("last_seen_dump_id").isNotNull()).isEmpty()


def test_another_engine_reads_gold_from_disk(first_run, lake, lake_dir, settings):
    path = lake_dir / settings.bucket / "gold" / "most_popular_tags"
    script = (
        "import json, sys, deltalake\n"
        f"t = deltalake.DeltaTable({str(path)!r}).to_pyarrow_table()\n"
        "rows = sorted((r['site'], r['tag'], r['question_count']) for r in t.to_pylist())\n"
        "print(json.dumps(rows), flush=True)\n"
        "import os; os._exit(0)\n"
    )
    # In a subprocess, leaving through os._exit: delta-rs 1.6.6 sometimes aborts during
    # interpreter teardown ("terminate called without an active exception").
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    from_disk = [tuple(row) for row in json.loads(result.stdout)]
    from_spark = sorted(
        (r["site"], r["tag"], r["question_count"])
        for r in lake.read("gold.most_popular_tags").collect()
    )
    assert from_disk == from_spark and len(from_disk) > 0


def test_emulator_restart_between_steps_loses_nothing(lake, settings, s3, s3_server, tmp_path):
    from lakehouse import steps

    site = "restart.example.com"
    ingest_sample(settings, tmp_path, site, questions=40)
    ctx = steps.run_context(lake, site)
    steps.bronze_posts(ctx)
    steps.bronze_users(ctx)
    s3_server.stop()
    s3_server.start()
    for name in ("bronze_posts_dataquality", "silver_posts", "silver_users", "gold_posts_users"):
        steps.STEPS[name](ctx)
    counts = site_counts(lake, site)
    assert counts["bronze.posts"] == counts["silver.posts"] > 0
    assert counts["gold.posts_users"] == counts["bronze.users"]


def test_sigkill_in_the_middle_of_a_write_keeps_the_last_good_version(
    lake, s3, s3_server, lake_dir, settings
):
    name = "bronze.crash_test"
    # Many small files: the Spark server writes to S3 all the time, so the kill meets a
    # write in flight and the job fails within seconds of it, not when a big file closes.
    rows = lake.spark.range(0, 4_000_000, numPartitions=400).select(
        F.lit("crash.example.com").alias("site"),
        "id",
        F.sha2(F.col("id").cast("string"), 256).alias("v"),
    )
    lake.append(rows.limit(1000), name)
    good_version = lake.current_version(name)

    failure = {}

    def big_write():
        try:
            lake.append(rows, name)
        except Exception as error:  # noqa: BLE001 - the point is that it fails
            failure["error"] = error

    writer = threading.Thread(target=big_write)
    writer.start()
    time.sleep(4)
    assert writer.is_alive(), "the write finished before the crash; make it bigger"
    s3_server.stop(kill=True)
    writer.join(timeout=120)
    alive = writer.is_alive()
    s3_server.start()
    assert not alive, "the write did not fail within 2 minutes of the S3 server's death"
    assert "error" in failure
    assert lake.current_version(name) == good_version
    assert lake.read(name).count() == 1000

    # `make vacuum` removes what the killed write left, once older than the retention.
    folder = lake_dir / settings.bucket / "bronze" / "crash_test"
    referenced = {Path(uri).name for uri in lake.read(name).inputFiles()}
    orphan = folder / "part-orphan-left-by-a-killed-write.snappy.parquet"
    shutil.copy(folder / sorted(referenced)[0], orphan)
    assert lake.vacuum(name) == 0, "a file younger than the retention was removed"
    leftovers = [f for f in folder.glob("*.parquet") if f.name not in referenced]
    eight_days_ago = time.time() - 8 * 24 * 3600
    for leftover in leftovers:
        os.utime(leftover, (eight_days_ago, eight_days_ago))
    assert lake.vacuum(name) == len(leftovers) >= 1
    assert {f.name for f in folder.glob("*.parquet")} == referenced
    assert lake.read(name).count() == 1000


def test_docs_describe_every_column_of_every_table(first_run, lake):
    from pathlib import Path

    from lakehouse.steps import TABLES

    docs = (Path(__file__).resolve().parents[2] / "docs" / "tables.md").read_text()
    sections = {part.split("`", 1)[0]: part for part in docs.split("\n## `")[1:]}
    for name in TABLES:
        assert name in sections, f"docs/tables.md has no section for {name}"
        missing = [c for c in lake.read(name).columns if f"| `{c}` |" not in sections[name]]
        assert not missing, f"docs/tables.md lacks {name} columns {missing}"
