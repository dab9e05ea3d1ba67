"""The local report as a person opens it: from disk, in headless Chromium, with no
request leaving the machine, and with the gold tables' numbers."""

import pytest
from pipeline_helpers import PIPED_SITE
from pyspark.sql import functions as F

from browser import Browser, chromium_binary
from conftest import ARTIFACTS, absent
from report_page import check_charts_read_at_a_glance, write_report

SITE = PIPED_SITE


@pytest.fixture(scope="module")
def report(piped_site, tmp_path_factory):
    return write_report(SITE, tmp_path_factory.mktemp("report") / "report.html")


@pytest.fixture(scope="module")
def browser():
    if chromium_binary() is None:
        absent("Chromium is not installed here; `make test-tools` installs Debian's")
    chromium = Browser()
    yield chromium
    chromium.close()


def test_the_report_opens_offline_with_no_console_error(report, browser, lake):
    browser.open(report.as_uri())
    assert browser.console_errors() == []
    held = lake.read("bronze.dump_loads").where(F.col("site") == SITE).first()["dump_id"]
    assert f"Site {SITE}, dump {held}, run " in browser.evaluate("document.body.innerText")
    urls = browser.requested_urls()
    assert urls and all(url.startswith(("file:", "data:")) for url in urls), urls


def raw_posts(lake, s3, settings):
    """The site's Posts.xml rows as ingest stored them: the dump's own, not the lake's."""
    from lxml import etree

    from lakehouse.raw_layout import dump_folder

    dump_id = lake.read("bronze.dump_loads").where(F.col("site") == SITE).first()["dump_id"]
    key = f"raw/{dump_folder(SITE, dump_id)}/Posts.xml"
    return list(etree.fromstring(s3.get_object(Bucket=settings.bucket, Key=key)["Body"].read()))


def test_the_headline_numbers_are_the_gold_tables_values(report, browser, lake, s3, settings):
    browser.open(report.as_uri(), settle_seconds=0)
    shown = browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('[data-metric]')]"
        ".map(e => [e.dataset.metric, Number(e.textContent.replaceAll(',', ''))]))"
    )
    users = lake.read("gold.posts_users").where(F.col("site") == SITE)
    totals = users.agg(*[F.sum(c).alias(c) for c in ("questions", "answers", "accepted_answers")])
    expected = {
        "all_questions": sum(row.get("PostTypeId") == "1" for row in raw_posts(lake, s3, settings)),
        "users": users.count(),
        "tags": lake.read("gold.most_popular_tags").where(F.col("site") == SITE).count(),
        **totals.first().asDict(),
    }
    assert shown == expected


def test_every_chart_is_page_wide_and_counts_in_whole_numbers(report, browser):
    title = check_charts_read_at_a_glance(browser, report, ARTIFACTS / "report.png")
    # The sample's 60 questions over a dozen years: a handful per tag and year.
    assert title.startswith("Questions per year, top 5 tags"), title


@pytest.mark.parametrize("width", [1280, 420])
def test_the_page_fits_the_screen_at_desktop_and_phone_width(report, browser, width):
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        width=width,
        height=900,
        deviceScaleFactor=1,
        mobile=width < 600,
    )
    try:
        browser.open(report.as_uri(), settle_seconds=0)
        page_width = browser.evaluate("document.documentElement.scrollWidth")
        assert page_width <= browser.evaluate("window.innerWidth"), f"{page_width} px wide"
    finally:
        browser.call("Emulation.clearDeviceMetricsOverride")


def test_numbers_are_grouped_and_right_aligned_and_chart_text_is_text(report, browser):
    browser.open(report.as_uri(), settle_seconds=0)
    cells = browser.evaluate(
        "[...document.querySelectorAll('#top-users tbody tr:first-child td')]"
        ".map(td => [td.textContent, getComputedStyle(td).textAlign])"
    )
    name, *numbers = cells
    assert name[1] == "left"
    assert all(align == "right" and text.replace(",", "").isdigit() for text, align in numbers)
    for chart in ("chart-tag-trend", "chart-answer-times"):
        labels = browser.evaluate(
            f"[...document.querySelectorAll('#{chart} svg text')].map(t => t.textContent)"
        )
        assert "questions" in " ".join(labels), labels


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


def test_the_lab_and_the_report_wait_for_answers_as_the_dump_says(report, lake, s3, settings):
    """The answer-time chart's waits, from the lab's Spark and from the report's reader
    alike, are the dump's own: each question's first answer's CreationDate minus its
    own, from Posts.xml as ingest stored it."""
    from datetime import datetime

    from lakehouse import explore, plots
    from worker.lake_summary import read_site_table

    asked, answered = {}, {}
    for row in raw_posts(lake, s3, settings):
        created = datetime.fromisoformat(row.get("CreationDate"))
        if row.get("PostTypeId") == "1":
            asked[row.get("Id")] = created
        elif row.get("PostTypeId") == "2":
            parent = row.get("ParentId")
            answered[parent] = min(created, answered.get(parent, created))
    waits = [(answered[q] - asked[q]).total_seconds() / 3600 for q in answered if q in asked]
    expected = sorted(w for w in waits if w >= 0)

    posts = read_site_table(settings, "silver.posts", SITE, list(plots.POST_TIMES))
    assert expected and len(expected) < explore.MAX_POINTS
    assert plots.hours_to_first_answer(posts.to_pandas()) == pytest.approx(expected)
    assert explore.hours_to_first_answer(lake, SITE) == pytest.approx(expected)
