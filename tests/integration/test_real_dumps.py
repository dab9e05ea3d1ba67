"""The real dumps in ../shared/stackexchange, read in place, against Stack Exchange's
own numbers: Tags.xml Count, each question's AnswerCount, and the rows in each file
(counted here with lxml, independently of the pipeline's parser); and a refresh to one
of them, which must equal its load alone.

Each real dump is loaded alone once in the suite: the Bicycles meta dump (2023-09, CRLF
line ends) here, the French meta one (2021-09, LF) through Airflow in
test_airflow_scheduler.py, which checks it against the same numbers. A pipeline run
costs minutes on two cores, so the refresh's oracle is this module's load, not one of
its own. real_dump_helpers says how the earlier dump is made and the lakes compared."""

import pytest
from pipeline_helpers import run_pipeline, versions
from pyspark.sql import functions as F
from real_dump_helpers import (
    EARLIER,
    FILE_ORDER,
    PUBLISHED_ROWS,
    check_answer_count,
    check_lineage,
    check_oracles,
    check_rows_stored_or_rejected,
    check_tags_count,
    differences,
    load_earlier_then_later,
    pack_listed,
)

from browser import Browser, chromium_binary
from conftest import ARTIFACTS, absent
from dump_generator.cut import CutSpec, cut_leaving, write_earlier_dump
from lakehouse import delta_merge
from lakehouse.bronze.dump_history import OlderDump
from report_page import check_charts_read_at_a_glance, write_report
from worker.ingest.sources import LocalArchive
from worker.lake_summary import refresh_changes

pytestmark = pytest.mark.realdump


def test_row_counts_match_the_published_ones(real_dump):
    rows = real_dump.rows
    assert tuple(len(rows[name]) for name in FILE_ORDER) == PUBLISHED_ROWS[real_dump.site]


def test_bronze_plus_rejected_equals_the_rows_of_each_file(real_dump, lake):
    rows_in = {name: len(rows) for name, rows in real_dump.rows.items()}
    check_rows_stored_or_rejected(lake, real_dump.site, rows_in)


def test_gold_question_count_equals_tags_count(real_dump, lake):
    check_tags_count(lake, real_dump.site, real_dump.xml_dir)


def test_silver_answer_count_equals_answer_count(real_dump, lake):
    check_answer_count(lake, real_dump.site, real_dump.xml_dir)


def test_no_post_is_quarantined_or_rejected(real_dump, lake):
    site = real_dump.site
    assert lake.read("bronze.posts_quarantine").where(F.col("site") == site).count() == 0
    assert lake.read("bronze.rejected_rows").where(F.col("site") == site).count() == 0


def test_a_refresh_to_a_real_dump_equals_its_load_alone(
    real_dump, lake, refreshed_lake, tmp_path, monkeypatch
):
    """The dump cut at a date is loaded first, then the dump itself: every
    table equals the dump's load alone, what changed is in bronze.row_lineage, and an
    older dump never rolls the tables back. The computed tables are rewritten uncompared,
    as a large site's are (the refreshed lake's LAKE_COMPARE_MAX_ROWS is below the site's
    posts and users, above its tags), the tag tables too, though they hold fewer rows:
    they aggregate all posts."""
    rewritten, rewrite = [], delta_merge._rewrite

    def noted_rewrite(lake, source, into):
        rewritten.append(into.name)
        return rewrite(lake, source, into)

    monkeypatch.setattr(delta_merge, "_rewrite", noted_rewrite)
    site, later_dir, earlier_dir = real_dump.site, real_dump.xml_dir, tmp_path / "earlier"
    write_earlier_dump(later_dir, earlier_dir, CutSpec(cut=cut_leaving(later_dir, share=0.1)))
    earlier = LocalArchive(pack_listed(earlier_dir, tmp_path / "e" / f"{site}.7z", EARLIER))

    first, second = load_earlier_then_later(
        refreshed_lake, earlier, LocalArchive(real_dump.archive), tmp_path
    )
    assert second.dump_id == real_dump.dump_id
    rows_in = {name: len(rows) for name, rows in real_dump.rows.items()}
    check_oracles(refreshed_lake, site, later_dir, rows_in)
    assert refreshed_lake.read("bronze.posts_quarantine").where(F.col("site") == site).count() == 0
    assert differences(refreshed_lake, lake, site) == {}
    # Silver and gold, functions of bronze, were rewritten whole for the site: one write.
    derived = [name for name in versions(refreshed_lake) if name.startswith(("silver.", "gold."))]
    assert len(derived) == 5, derived
    assert set(derived) | {"bronze.posts_valid"} <= set(rewritten), rewritten
    tags = refreshed_lake.read("gold.most_popular_tags").where(F.col("site") == site).count()
    assert tags <= refreshed_lake.settings.compare_max_rows  # fewer before the refresh
    for name in derived:
        (last,) = refreshed_lake.history(name, limit=1).collect()
        predicate = last.operationParameters.get("predicate")
        assert (last.operation, predicate) == ("WRITE", f"`site` = '{site}'"), name
    posts_changed = check_lineage(refreshed_lake, site, second.dump_id, earlier_dir, later_dir)
    summary = refresh_changes(refreshed_lake.settings, site, second.dump_id)
    assert summary["replaced_dump_id"] == first.dump_id
    assert summary["rows"]["posts"] == posts_changed

    before = versions(refreshed_lake)
    with pytest.raises(OlderDump, match=f"dump {first.dump_id} .* is older"):
        run_pipeline(refreshed_lake, site, first.dump_id)
    assert versions(refreshed_lake) == before, "an older dump changed a table"


def test_the_report_of_a_real_dump_reads_at_a_glance(real_dump, lake, tmp_path):
    """Drawn from the real site's tables, as `lake report` writes it; the screenshot is
    left in test-artifacts/ to look at."""
    if chromium_binary() is None:
        absent("Chromium is not installed here; `make test-tools` installs Debian's")
    page = write_report(real_dump.site, tmp_path / "report.html", lake.settings.bucket)
    browser = Browser()
    try:
        shot = ARTIFACTS / f"report-{real_dump.site}.png"
        title = check_charts_read_at_a_glance(browser, page, shot)
    finally:
        browser.close()
    assert not title.startswith("Questions per month"), title  # a small meta site
