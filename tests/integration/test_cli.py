"""The `lake` command as users run it: SQL on logical names, and failures that exit
non-zero with one clear message naming the step, the file or the setting."""

import os
import subprocess
import sys

import pytest
from pipeline_helpers import ingest_sample

from lakehouse import steps
from localenv.local_run import StepFailed, run_notebooks

SITE = "cli.example.com"


def lake_command(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "localenv.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=600,
    )


def test_sql_reads_logical_table_names_and_prints_csv(lake, settings, s3, tmp_path):
    ingested = ingest_sample(settings, tmp_path, SITE, questions=15)
    steps.bronze_posts(steps.run_context(lake, SITE))
    result = lake_command(
        "sql", f"SELECT count(*) AS posts FROM bronze.posts WHERE site = '{SITE}'"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["posts", str(ingested.rows["Posts.xml"])]


def test_sql_error_is_one_line_from_spark(s3):
    result = lake_command("sql", "SELECT nope FROM gold.most_popular_tags")
    assert result.returncode != 0
    assert "nope" in result.stderr and "Traceback" not in result.stderr


def test_missing_archive_is_named(s3):
    result = lake_command("run", "--dump", "/nonexistent/x.stackexchange.com.7z")
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        "error: /nonexistent/x.stackexchange.com.7z: no such dump archive"
    )


def test_bad_setting_is_named(s3):
    result = lake_command("s3", "status", LAKE_BUCKET="Not_A_Bucket")
    assert result.returncode == 1 and "LAKE_BUCKET='Not_A_Bucket'" in result.stderr


def test_failed_notebook_names_the_step_and_the_saved_copy(s3, tmp_path):
    parameters = {"site": "never-ingested.example.com", "dump_id": "", "run_id": "t"}
    with pytest.raises(
        StepFailed,
        match=r"step bronze_posts failed: LookupError: .*saved notebook: .*bronze_posts.ipynb",
    ):
        run_notebooks(parameters, tmp_path, {})
    assert (tmp_path / "bronze_posts.ipynb").exists()
