"""The medallion notebooks as a Databricks job runs them (widgets, catalog names, the
runtime's Spark), into a bucket of their own, must give every table the local run gave.
The local run is the `piped_site` fixture's: the same notebooks, in graph order, in one
kernel, as `make local-run` runs them, each checked to write what the graph declares.
The explore tour then runs on those tables in the lab's kernel."""

import json
import os
import re
import subprocess
from collections import Counter

import pytest
from pipeline_helpers import PIPED_SITE
from pyspark.sql import functions as F

from lakehouse.lake import Lake
from lakehouse.settings import environment_set
from lakehouse.steps import PIPELINE, TABLES
from lakehouse.target import resolve
from laptop.lab import KERNEL_NAME, install_kernel
from laptop.shared_kernel import SharedKernel
from worker.paths import DATABRICKS_PYTHON, NOTEBOOKS_DIR

DASHBOARD = NOTEBOOKS_DIR.parent / "dashboards" / "stackexchange_overview.lvdash.json"


def test_the_local_run_filled_gold(piped_site, lake):
    tags = lake.read("gold.most_popular_tags").where(F.col("site") == PIPED_SITE)
    assert tags.count() > 0
    users = lake.read("gold.posts_users").where(F.col("site") == PIPED_SITE).count()
    assert users == piped_site.rows["Users.xml"]


def test_the_explore_tour_runs_on_what_the_local_run_wrote(piped_site, tmp_path):
    """On the kernel the notebook names, the lab's lake kernel, as JupyterLab opens it."""
    assert (
        json.loads((NOTEBOOKS_DIR / "explore.ipynb").read_text())["metadata"]["kernelspec"]["name"]
        == KERNEL_NAME
    )
    install_kernel(tmp_path / "jupyter")
    with (
        environment_set({"JUPYTER_PATH": str(tmp_path / "jupyter")}),
        SharedKernel(NOTEBOOKS_DIR, kernel_name=KERNEL_NAME) as kernel,
    ):
        explore = NOTEBOOKS_DIR / "explore.ipynb"
        kernel.run(explore, tmp_path / explore.name, {"site": PIPED_SITE})


# Columns stamped with the run's own time or id; everything else must be equal.
RUN_STAMPS = {
    "ingested_at",
    "loaded_at",
    "recorded_at",
    "run_id",
    "run_time",
    "_errors",
    "_warnings",
}


def site_rows_as_json(lake: Lake, name: str, site: str) -> list[str]:
    rows = lake.read(name).where(F.col("site") == site)
    kept = sorted(column for column in rows.columns if column not in RUN_STAMPS)
    as_json = rows.select(F.to_json(F.struct(*[F.col(f"`{c}`") for c in kept])).alias("row"))
    return sorted(row["row"] for row in as_json.collect())


@pytest.fixture(scope="module")
def imitation_job(piped_site, lake, settings) -> tuple[Lake, dict[str, dict]]:
    """The imitation's lake, and each notebook's exit value (parsed). The job runs in the
    Python of a Databricks job: the runtime's libraries and the task's, nothing else. Its
    catalog starts empty, so the three bronze notebooks, side by side, race to create
    the tables they share, as a first run on Databricks does."""
    imitation = Lake(lake.spark, settings.model_copy(update={"bucket": "imitation-lake"}))
    result = subprocess.run(
        [
            str(DATABRICKS_PYTHON),
            "-m",
            "laptop.cli",
            "databricks-imitation",
            "--site",
            PIPED_SITE,
            "--raw-root",
            resolve(settings).raw_location,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "LAKE_BUCKET": imitation.settings.bucket},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    exit_values = {}
    for line in result.stdout.splitlines():
        notebook, marker, value = line.partition(" exit value: ")
        if marker:
            exit_values[notebook] = json.loads(value)
    spans = re.findall(r"^(bronze_\w+) ran from ([\d.]+) s to ([\d.]+) s$", result.stderr, re.M)
    bronze = {name: (float(start), float(end)) for name, start, end in spans}
    roots = {task.name for task in PIPELINE if not task.depends_on}
    assert set(bronze) >= roots
    # Side by side, as the job's graph allows: each started before any other ended.
    assert max(bronze[n][0] for n in roots) < min(bronze[n][1] for n in roots), bronze
    return imitation, exit_values


@pytest.fixture(scope="module")
def imitation_lake(imitation_job) -> Lake:
    return imitation_job[0]


def test_each_notebook_tells_the_job_the_tables_it_changed(imitation_job, piped_site):
    """The imitation's lake was empty: each step changed its own table and recorded its
    run, with rows as the lake now holds them. (A table no row reached, such as the
    quarantine, may have no commit, so no event.)"""
    imitation, exit_values = imitation_job
    writers = Counter(name for task in PIPELINE for name in task.writes)
    shared = {name for name, count in writers.items() if count > 1}
    assert set(exit_values) == {task.name for task in PIPELINE}
    for task in PIPELINE:
        result = exit_values[task.name]
        assert result["site"] == PIPED_SITE
        tables = result["tables"]
        assert set(tables) <= set(task.writes), task.name
        assert {task.writes[0], "bronze.step_runs"} <= set(tables), task.name
        for name, extra in tables.items():
            assert extra["dump_id"] == piped_site.dump_id
            if name in shared:  # Later steps commit to it too.
                assert extra["version"] <= imitation.current_version(name), name
                continue
            assert extra["version"] == imitation.current_version(name), name
            assert extra["rows"] == imitation.read(name).where(F.col("site") == PIPED_SITE).count()
    quality = exit_values["bronze_posts_dataquality"]["tables"]["bronze.posts_valid"]
    assert quality["posts_passed"] == quality["rows"]
    assert quality["posts_quarantined"] == 0


@pytest.mark.parametrize("name", TABLES)
def test_the_databricks_imitation_gives_the_same_tables(name, imitation_lake, lake):
    assert imitation_lake.exists(name) == lake.exists(name)
    if lake.exists(name):
        local = site_rows_as_json(lake, name, PIPED_SITE)
        assert site_rows_as_json(imitation_lake, name, PIPED_SITE) == local


def test_the_imitation_wrote_through_catalog_names(imitation_lake, lake):
    def first_operation(table_lake: Lake) -> str:
        return table_lake.history("gold.posts_users").orderBy("version").first()["operation"]

    assert first_operation(imitation_lake) == "CREATE TABLE AS SELECT"
    assert first_operation(lake) == "WRITE"


def test_every_dashboard_query_runs_on_the_gold_tables(piped_site, lake):
    dashboard = json.loads(DASHBOARD.read_text())
    for dataset in dashboard["datasets"]:
        rows = lake.sql("".join(dataset["queryLines"])).where(F.col("site") == PIPED_SITE)
        assert rows.count() > 0, dataset["name"]


def test_the_imitations_catalog_follows_its_bucket_and_serves_no_other(imitation_lake, s3):
    """Between jobs the server keeps the catalog: a table stored since is registered, a
    table gone from the bucket loses its name, and a job for another bucket is refused
    rather than written into this one."""
    from laptop.databricks_imitation import CatalogHeldForAnotherBucket, catalog_session

    settings = imitation_lake.settings
    scratch = "gold.scratch_between_jobs"
    imitation_lake.spark.range(3).write.format("delta").save(imitation_lake.location(scratch))
    spark = catalog_session(settings)
    assert spark.catalog.tableExists(f"spark_catalog.{scratch}")
    listed = s3.list_objects_v2(Bucket=settings.bucket, Prefix="gold/scratch_between_jobs/")
    s3.delete_objects(
        Bucket=settings.bucket,
        Delete={"Objects": [{"Key": entry["Key"]} for entry in listed["Contents"]]},
    )
    spark = catalog_session(settings)
    assert not spark.catalog.tableExists(f"spark_catalog.{scratch}")
    assert spark.catalog.tableExists("spark_catalog.gold.posts_users")

    other = settings.model_copy(update={"bucket": "another-imitation-lake"})
    with pytest.raises(CatalogHeldForAnotherBucket, match="holds spark_catalog.bronze at s3a://"):
        catalog_session(other)
