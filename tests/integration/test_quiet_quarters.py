"""A site's quarterly refreshes on a generated dump, the quiet ones included: a dump cut
at a date, then three quarters in which only a few rows of one table change (only
LastAccessDate, only votes, only users who have no AboutMe), then the dump itself. The
oracles are what the generator changed between two quarters and Stack Exchange's numbers
(Tags Count, AnswerCount). That a refresh equals a load alone, row by row, is shown on
the real dumps (test_real_dumps.py, test_airflow_scheduler.py): each load here costs
most of a minute."""

from pathlib import Path

import pytest
from pipeline_helpers import run_pipeline
from pyspark.sql import functions as F
from quiet_quarters import Quarter, quiet_quarters_before
from real_dump_helpers import (
    EARLIER,
    check_lineage,
    check_oracles,
    lake_in_bucket,
    pack_listed,
)

from dump_generator.cut import CutSpec, cut_leaving, write_earlier_dump
from dump_generator.sample import SampleSpec, write_sample_dump
from lakehouse.tables import ROW_LINEAGE
from worker.ingest.ingest_dump import ingest_dump
from worker.ingest.sources import LocalArchive
from worker.lake_summary import refresh_changes

SITE = "quiet.example.com"
DAY = 86_400


def _load(lake, quarter: Quarter, day: int, work: Path) -> str:
    archive = pack_listed(quarter.xml_dir, work / quarter.name / f"{SITE}.7z", EARLIER + day * DAY)
    dump_id = ingest_dump(LocalArchive(archive), lake.settings, work / "ingest").dump_id
    run_pipeline(lake, SITE, dump_id)
    return dump_id


@pytest.fixture(scope="module")
def later(tmp_path_factory) -> Path:
    xml_dir = tmp_path_factory.mktemp("later")
    write_sample_dump(SampleSpec(site=SITE, questions=40), xml_dir)
    return xml_dir


@pytest.fixture(scope="module")
def quarters(later, tmp_path_factory) -> list[Quarter]:
    """Oldest first: the dump cut at a date, the quiet quarters, the dump itself."""
    work = tmp_path_factory.mktemp("quarters")
    cut = cut_leaving(later, share=0.15)
    write_earlier_dump(later, work / "cut", CutSpec(cut=cut))
    quiet = quiet_quarters_before(later, cut, work)
    return [Quarter("cut", work / "cut", {}), *quiet, Quarter("later", later, {})]


@pytest.fixture(scope="module")
def refreshed(spark, settings, s3_server, quarters, tmp_path_factory):
    """Every quarter loaded in turn into a lake of its own: (the lake, each quarter's
    dump id, what loading each one changed)."""
    lake = lake_in_bucket(spark, settings, f"{settings.bucket}-quiet")
    work = tmp_path_factory.mktemp("refreshes")
    dump_ids, changes = [], []
    for day, quarter in enumerate(quarters):
        dump_ids.append(_load(lake, quarter, day, work))
        found = refresh_changes(lake.settings, SITE, dump_ids[-1]).get("rows", {})
        changes.append({table: counts for table, counts in found.items() if counts})
    return lake, dump_ids, changes


def test_each_quiet_quarter_changes_only_its_few_rows(quarters, refreshed):
    _, _, changes = refreshed
    for before, after, changed in zip(quarters[1:-1], quarters[2:], changes[2:], strict=True):
        assert changed == before.next_changes, f"{before.name} -> {after.name}"


def test_the_refreshes_end_holding_the_dumps_own_numbers(quarters, refreshed):
    lake, _, _ = refreshed
    later = quarters[-1].xml_dir
    rows_in = {
        name: sum(line.lstrip().startswith("<row") for line in path.read_text().splitlines())
        for path in later.glob("*.xml")
        for name in [path.name]
    }
    check_oracles(lake, SITE, later, rows_in)


def test_the_cut_to_the_next_quarter_adds_changes_and_deletes_posts(quarters, refreshed):
    """Posts asked after the cut arrive, posts deleted since leave, and retagged or newly
    answered ones change: every branch of the bronze MERGE, named in the lineage."""
    lake, dump_ids, _ = refreshed
    check_lineage(lake, SITE, dump_ids[1], quarters[0].xml_dir, quarters[1].xml_dir)


def test_rows_a_dump_deleted_and_a_later_one_brought_back_are_live_again(refreshed):
    lake, dump_ids, _ = refreshed
    users = lake.read(ROW_LINEAGE).where((F.col("site") == SITE) & (F.col("table_name") == "users"))
    back = users.where(F.col("changed_in_dump_id") == dump_ids[-1]).collect()
    assert len(back) == 2
    for row in back:
        assert (row.first_seen_dump_id, row.last_seen_dump_id) == (dump_ids[0], dump_ids[-1])
        assert row.deleted_in_dump_id is None
