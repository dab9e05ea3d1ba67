"""nbmake executes every medallion notebook, in graph order, on the generated sample,
against the test session's own S3 server (kernels inherit LAKE_S3_ENDPOINT). Then the
same notebooks run as a Databricks job would (widgets, catalog names, the runtime's
Spark) into another bucket, and every table must come out the same."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from nbmake.nb_run import NotebookRun
from pyspark.sql import functions as F

from ingest.ingest_dump import ingest_dump
from ingest.sample_dump import SampleSpec
from ingest.sources import GeneratedSample
from lakehouse.graph import TABLES, in_dependency_order
from lakehouse.lake import Lake
from lakehouse.settings import environment_set
from localenv.lab import install_kernel

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
DASHBOARD = NOTEBOOKS.parent / "dashboards" / "stackexchange_overview.lvdash.json"
SAMPLE = SampleSpec()  # the notebooks' default site


@pytest.fixture(scope="module")
def sample_in_lake(settings, s3, tmp_path_factory):
    work = tmp_path_factory.mktemp("notebooks")
    return ingest_dump(GeneratedSample(SAMPLE, work / "sample"), settings, work / "work")


@pytest.mark.parametrize("task", in_dependency_order(), ids=lambda task: task.notebook)
def test_notebook_runs(task, sample_in_lake):
    result = NotebookRun(NOTEBOOKS / f"{task.notebook}.ipynb", default_timeout=900).execute()
    assert result.error is None, f"{task.notebook}: {result.error.summary if result.error else ''}"


def test_the_flow_filled_gold(sample_in_lake, lake):
    tags = lake.read("gold.most_popular_tags").where(F.col("site") == SAMPLE.site)
    assert tags.count() > 0
    users = lake.read("gold.posts_users").where(F.col("site") == SAMPLE.site).count()
    assert users == sample_in_lake.rows["Users.xml"]


def test_the_explore_tour_runs_on_what_the_flow_wrote(sample_in_lake, tmp_path):
    """On the kernel the notebook names, the lab's lake kernel, as JupyterLab opens it."""
    install_kernel(tmp_path / "jupyter")
    with environment_set({"JUPYTER_PATH": str(tmp_path / "jupyter")}):
        result = NotebookRun(NOTEBOOKS / "explore.ipynb", default_timeout=900).execute()
    assert result.error is None, result.error.summary if result.error else ""


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
def imitation_lake(sample_in_lake, lake, settings):
    imitation = Lake(lake.spark, settings.model_copy(update={"bucket": "imitation-lake"}))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "localenv.cli",
            "databricks-imitation",
            "--site",
            SAMPLE.site,
            "--raw-root",
            settings.raw_location,
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "LAKE_BUCKET": imitation.settings.bucket},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return imitation


@pytest.mark.parametrize("name", TABLES)
def test_the_databricks_imitation_gives_the_same_tables(name, imitation_lake, lake):
    assert imitation_lake.exists(name) == lake.exists(name)
    if lake.exists(name):
        local = site_rows_as_json(lake, name, SAMPLE.site)
        assert site_rows_as_json(imitation_lake, name, SAMPLE.site) == local


def test_the_imitation_wrote_through_catalog_names(imitation_lake, lake):
    def first_operation(table_lake: Lake) -> str:
        return table_lake.history("gold.posts_users").orderBy("version").first()["operation"]

    assert first_operation(imitation_lake) == "CREATE TABLE AS SELECT"
    assert first_operation(lake) == "WRITE"


def test_every_dashboard_query_runs_on_the_gold_tables(sample_in_lake, lake):
    dashboard = json.loads(DASHBOARD.read_text())
    for dataset in dashboard["datasets"]:
        rows = lake.sql("".join(dataset["queryLines"])).where(F.col("site") == SAMPLE.site)
        assert rows.count() > 0, dataset["name"]
