"""nbmake executes every medallion notebook, in graph order, on the generated sample,
against the test session's own S3 server (kernels inherit LAKE_S3_ENDPOINT)."""

from pathlib import Path

import pytest
from nbmake.nb_run import NotebookRun
from pyspark.sql import functions as F

from lakehouse.graph import in_dependency_order
from lakehouse.ingest.ingest_dump import ingest_dump
from lakehouse.ingest.sample_dump import SampleSpec
from lakehouse.ingest.sources import GeneratedSample

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
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
