"""`make lab` as a user meets it: JupyterLab in headless Chromium lists the notebooks,
the lake kernel's %%sql gives what `lake sql` gives, a bad query shows Spark's message,
and the kernel cannot write to the lake."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from pipeline_helpers import PIPED_SITE

from browser import Browser, chromium_binary
from conftest import ARTIFACTS, REPO_ROOT, absent
from jupyter_api import JupyterKernel
from laptop.lab import KERNEL_DISPLAY_NAME, KERNEL_NAME, LocalLab
from laptop.ports import free_port

SITE = PIPED_SITE
COUNT_POSTS = f"SELECT count(*) AS posts FROM bronze.posts WHERE site = '{SITE}'"


@pytest.fixture(scope="module")
def lab(piped_site, settings, lake_dir, tmp_path_factory):
    local_lab = LocalLab(tmp_path_factory.mktemp("lab-state"), lake_dir, REPO_ROOT / "notebooks")
    info = local_lab.start(settings, port=free_port())
    yield info
    local_lab.stop()


@pytest.fixture(scope="module")
def kernel(lab):
    lake_kernel = JupyterKernel(f"http://127.0.0.1:{lab['port']}", lab["token"], KERNEL_NAME)
    yield lake_kernel
    lake_kernel.shutdown()


def test_the_file_browser_lists_the_notebooks(lab):
    if chromium_binary() is None:
        absent("Chromium is not installed here; `make test-tools` installs Debian's")
    browser = Browser()
    try:
        browser.open(lab["url"])
        listed = []
        for _ in range(120):
            listed = browser.evaluate(
                "[...document.querySelectorAll('.jp-DirListing-itemName')]"
                ".map(e => e.textContent.trim())"
            )
            if "bronze_posts.ipynb" in listed:
                break
            time.sleep(0.5)
        browser.screenshot(ARTIFACTS / "jupyterlab.png")
    finally:
        browser.close()
    assert {"bronze_posts.ipynb", "gold_most_popular_tags.ipynb", "lakehouse"} <= set(listed)


def test_sql_magic_gives_what_lake_sql_gives(kernel, s3):
    in_kernel = kernel.execute(f"%%sql\n{COUNT_POSTS}")
    assert in_kernel["status"] == "ok", in_kernel
    from_cli = subprocess.run(
        [sys.executable, "-m", "laptop.cli", "sql", COUNT_POSTS],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert from_cli.stdout.split()[-1] == in_kernel["result"].split()[-1]
    assert int(in_kernel["result"].split()[-1]) > 0


def test_a_bad_query_shows_sparks_message_not_a_traceback(kernel):
    outcome = kernel.execute("%%sql\nSELECT nope FROM bronze.posts")
    assert "UNRESOLVED_COLUMN" in outcome["stderr"]
    assert "Traceback" not in outcome["stderr"] and outcome["error"] is None
    assert len(outcome["stderr"].strip().splitlines()) == 1, outcome["stderr"]


def test_a_misspelt_table_lists_the_tables_without_the_plan(kernel):
    outcome = kernel.execute("%%sql\nSELECT * FROM bronze.postz")
    (line,) = outcome["stderr"].strip().splitlines()
    assert "TABLE_OR_VIEW_NOT_FOUND" in line and "bronze.posts," in line
    details = line.rsplit("(details: ", 1)[1].rstrip(")")
    assert "UnresolvedRelation" in Path(details).read_text()  # The plan went to the log.


def test_spark_sql_on_a_lake_name_says_to_use_lake_sql(kernel):
    outcome = kernel.execute('spark.sql("SELECT * FROM gold.most_popular_tags").count()')
    (line,) = outcome["traceback"].strip().splitlines()
    assert "gold.most_popular_tags is a lake table" in line, line
    assert "lake.sql(...) or %%sql" in line


def test_a_create_in_a_layer_says_read_only_and_where_your_tables_go(kernel):
    outcome = kernel.execute("%%sql\nCREATE TABLE gold.my_tags AS SELECT 1 AS n")
    (line,) = outcome["stderr"].strip().splitlines()
    assert line.startswith("gold is a layer of the lake (read-only here), not a schema"), line
    assert "your own tables go in schema sandbox" in line


def test_your_own_tables_go_in_the_sandbox_and_stay_there(lab, kernel, lake, spark):
    """Written beside the read-only lake, and found again by a Spark whose catalog never
    saw them, as after a restart of the lab."""
    from laptop.lab_kernel import open_sandbox

    create = (
        "%%sql\nCREATE TABLE sandbox.my_tags AS "
        "SELECT site, count(*) AS tags FROM gold.most_popular_tags GROUP BY site"
    )
    assert kernel.execute(create)["status"] == "ok"
    expected = lake.read("gold.most_popular_tags").select("site").distinct().count()
    assert expected > 0
    try:
        open_sandbox(spark, Path(lab["sandbox_dir"]))
        assert spark.table("sandbox.my_tags").count() == expected
    finally:  # The session's Spark serves other tests after this one.
        spark.sql("DROP SCHEMA IF EXISTS sandbox CASCADE")
        spark.conf.unset("spark.sql.sources.default")


def test_the_kernel_cannot_write_to_the_lake(kernel, s3, settings):
    outcome = kernel.execute(
        f"spark.range(3).write.format('delta').save('s3a://{settings.bucket}/gold/scribble')"
    )
    assert outcome["status"] == "error"
    listing = s3.list_objects_v2(Bucket=settings.bucket, Prefix="gold/scribble")
    assert listing.get("KeyCount", 0) == 0
    assert_one_read_only_line(outcome["traceback"])


@pytest.mark.parametrize(
    "code",
    [
        f"lake.sql(\"DELETE FROM gold.posts_users WHERE site = '{SITE}'\")",
        f"%%sql\nDELETE FROM gold.posts_users WHERE site = '{SITE}'",
    ],
    ids=["lake.sql", "%%sql"],
)
def test_a_write_is_refused_in_one_line_that_says_read_only(kernel, lake, code):
    before = lake.read("gold.posts_users").where(f"site = '{SITE}'").count()
    outcome = kernel.execute(code)
    assert_one_read_only_line(outcome.get("traceback") or outcome["stderr"])
    assert lake.read("gold.posts_users").where(f"site = '{SITE}'").count() == before > 0


def assert_one_read_only_line(shown: str) -> None:
    (line,) = shown.strip().splitlines()
    assert "read-only" in line and "make lab WRITE=1" in line, line
    assert "Traceback" not in line and "Py4J" not in line


def test_the_tour_opens_on_the_lake_kernel(lab):
    if chromium_binary() is None:
        absent("Chromium is not installed here; `make test-tools` installs Debian's")
    browser = Browser()
    try:
        browser.open(lab["url"].replace("/lab?", "/lab/tree/explore.ipynb?"))
        shown = ""
        for _ in range(240):
            shown = browser.evaluate(
                "[...document.querySelectorAll('.jp-Toolbar-kernelName')]"
                ".map(e => e.textContent.trim()).join('|')"
            )
            if shown == KERNEL_DISPLAY_NAME:
                break
            time.sleep(0.5)
        # Ready when the kernel is idle, its start-up answered: what it reports about
        # itself is written into the notebook's metadata.
        idle = "!!document.querySelector('.jp-Notebook-ExecutionIndicator[data-status=idle]')"
        for _ in range(120):
            if browser.evaluate(idle):
                break
            time.sleep(0.5)
        time.sleep(1)
        unsaved = browser.evaluate("document.querySelectorAll('.jp-mod-dirty').length")
        pop_ups = browser.evaluate(
            "[...document.querySelectorAll('.Toastify__toast')].map(e => e.innerText)"
        )
        browser.screenshot(ARTIFACTS / "explore.png")
    finally:
        browser.close()
    assert shown == KERNEL_DISPLAY_NAME
    assert unsaved == 0, "the tour shows unsaved changes the moment it opens"
    assert pop_ups == []
