"""The local report as a person opens it: from disk, in headless Chromium, with no
request leaving the machine, and with the gold tables' numbers."""

import os
import subprocess
import sys

import pytest
from pipeline_helpers import PIPED_SITE
from pyspark.sql import functions as F

from browser import Browser, chromium_binary
from conftest import REPO_ROOT

SITE = PIPED_SITE
ARTIFACTS = REPO_ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def report(piped_site, tmp_path_factory):
    page = tmp_path_factory.mktemp("report") / "report.html"
    # In a subprocess: delta-rs, which reads the tables, may abort at interpreter exit.
    result = subprocess.run(
        [sys.executable, "-m", "localenv.cli", "report", "--site", SITE, "--out", str(page)],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return page


@pytest.fixture(scope="module")
def browser():
    if chromium_binary() is None:
        pytest.skip("Chromium is not installed here; `make test-tools` installs Debian's")
    chromium = Browser()
    yield chromium
    chromium.close()


def test_the_report_opens_offline_with_no_console_error(report, browser):
    browser.open(report.as_uri())
    browser.screenshot(ARTIFACTS / "report.png")
    assert browser.console_errors() == []
    urls = browser.requested_urls()
    assert urls and all(url.startswith(("file:", "data:")) for url in urls), urls


def test_the_headline_numbers_are_the_gold_tables_values(report, browser, lake):
    browser.open(report.as_uri(), settle_seconds=0)
    shown = browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('[data-metric]')]"
        ".map(e => [e.dataset.metric, Number(e.textContent)]))"
    )
    users = lake.read("gold.posts_users").where(F.col("site") == SITE)
    totals = users.agg(*[F.sum(c).alias(c) for c in ("questions", "answers", "accepted_answers")])
    expected = {
        "users": users.count(),
        "tags": lake.read("gold.most_popular_tags").where(F.col("site") == SITE).count(),
        **totals.first().asDict(),
    }
    assert shown == expected


def test_every_chart_and_table_is_on_the_page(report, browser, lake):
    browser.open(report.as_uri(), settle_seconds=0)
    for chart in ("chart-tag-trend", "chart-answer-times"):
        assert browser.evaluate(f"document.querySelectorAll('#{chart} svg path').length") > 10
    users = lake.read("gold.posts_users").where(F.col("site") == SITE).count()
    assert browser.evaluate("document.querySelectorAll('#top-users tbody tr').length") == min(
        users, 10
    )
    rules = lake.read("bronze.dq_results").where(F.col("site") == SITE).count()
    assert browser.evaluate("document.querySelectorAll('#data-quality tbody tr').length") == rules
    assert browser.evaluate("document.querySelectorAll('#data-quality-outcome td').length") == 3
