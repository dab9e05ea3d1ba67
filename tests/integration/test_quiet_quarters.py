"""A site's quarterly refreshes on a generated dump, the quiet ones included: a dump cut
at a date, then three quarters in which only a few rows of one table change (only
LastAccessDate, only votes, only users who have no AboutMe), then the dump itself. The
oracles are what the generator changed between two quarters and Stack Exchange's numbers
(Tags Count, AnswerCount). That a refresh equals a load alone, row by row, is shown on
the real dumps (test_real_dumps.py, test_airflow_scheduler.py): each load here costs
most of a minute."""

import filecmp
import io
import re
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

import pyarrow.parquet as pq
import pytest
from pipeline_helpers import run_pipeline, versions
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
from lakehouse.bronze import xml_to_bronze
from lakehouse.bronze.dq_results import dq_results
from lakehouse.bronze.xml_to_bronze import read_manifest
from lakehouse.delta_merge import SourceMismatch
from lakehouse.graph import in_dependency_order
from lakehouse.lake import Lake
from lakehouse.raw_layout import ROW_IDS
from lakehouse.schemas import DUMP_TABLES
from lakehouse.steps import PIPELINE
from lakehouse.tables import (
    BRONZE_POSTS,
    DUMP_LOADS,
    ROW_LINEAGE,
    STEP_RUNS,
    bronze,
)
from worker.ingest.ingest_dump import ingest_dump
from worker.ingest.sources import LocalArchive
from worker.lake_summary import refresh_changes

SITE = "quiet.example.com"
DAY = 86_400
PARSE = xml_to_bronze.parse_dump_file


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


class Refreshes(NamedTuple):
    """The quarters loaded in turn: the lake, and per quarter its dump id, what loading
    it changed, the files bronze parsed, and every table's version after it."""

    lake: Lake
    dump_ids: list[str]
    changes: list[dict[str, dict[str, int]]]
    files_read: list[set[str]]
    versions: list[dict[str, int]]


@pytest.fixture(scope="module")
def refreshed(spark, settings, s3_server, quarters, tmp_path_factory) -> Refreshes:
    """Every quarter loaded in turn into a lake of its own."""
    lake = lake_in_bucket(spark, settings, f"{settings.bucket}-quiet")
    work = tmp_path_factory.mktemp("refreshes")
    refreshes = Refreshes(lake, [], [], [], [])
    with pytest.MonkeyPatch.context() as patch:
        for day, quarter in enumerate(quarters):
            read: set[str] = set()
            patch.setattr(xml_to_bronze, "parse_dump_file", _noting_parses(read))
            refreshes.dump_ids.append(_load(lake, quarter, day, work))
            found = refresh_changes(lake.settings, SITE, refreshes.dump_ids[-1]).get("rows", {})
            refreshes.changes.append({table: rows for table, rows in found.items() if rows})
            refreshes.files_read.append(read)
            refreshes.versions.append(versions(lake))
    return refreshes


def test_each_quiet_quarter_changes_only_its_few_rows(quarters, refreshed):
    changes = refreshed.changes
    for before, after, changed in zip(quarters[1:-1], quarters[2:], changes[2:], strict=True):
        assert changed == before.next_changes, f"{before.name} -> {after.name}"


def test_a_quiet_quarter_moves_in_the_lineage_only_the_rows_it_changed(quarters, refreshed):
    """By Delta time travel: the lineage rows each quiet quarter left different from the
    quarter before are exactly the rows the generator changed (not every row its dump
    still has)."""
    lake = refreshed.lake
    lineage_versions = [after[ROW_LINEAGE] for after in refreshed.versions]

    def lineage(version: int) -> set[tuple]:
        rows = lake.read(ROW_LINEAGE, version=version).where(F.col("site") == SITE)
        return set(rows.collect())

    for before, after, (older, newer) in zip(
        quarters[1:-1],
        quarters[2:],
        zip(lineage_versions[1:-1], lineage_versions[2:], strict=True),
        strict=True,
    ):
        moved = lineage(newer) - lineage(older)
        changed = sum(sum(rows.values()) for rows in before.next_changes.values())
        assert len(moved) == changed > 0, f"{before.name} -> {after.name}"


def test_a_quiet_quarter_runs_only_the_steps_computed_from_the_tables_it_changed(
    quarters, refreshed
):
    """A step whose inputs a quarter left as they were has nothing to compute
    (lakehouse.step_runs): after a quarter that adds votes alone, no step of data
    quality, silver or gold runs, and the data quality counts are the last check run's."""
    lake, dump_ids = refreshed.lake, refreshed.dump_ids
    step_runs = [after[STEP_RUNS] for after in refreshed.versions]
    for quarter, (older, newer), (earlier_dump, dump_id) in zip(
        quarters[1:-1], pairwise(step_runs[1:]), pairwise(dump_ids[1:]), strict=True
    ):
        steps_run = _steps_recorded(lake, older, newer) - BRONZE_STEPS
        assert steps_run == steps_computed_from({bronze(t) for t in quarter.next_changes})
        if "bronze_posts_dataquality" not in steps_run:
            assert _dq_counts(lake, dump_id) == _dq_counts(lake, earlier_dump) != set()
    votes_only = [q.name for q in quarters if set(q.next_changes) == {"votes"}]
    assert votes_only == ["no_new_votes"]


BRONZE_STEPS = {task.name for task in PIPELINE if not task.depends_on}


def steps_computed_from(tables: set[str]) -> set[str]:
    """The steps that read one of `tables`, or a table such a step writes: by the steps'
    declarations."""
    reached, steps = set(tables), set()
    for task in in_dependency_order(PIPELINE):
        if reached.intersection(task.reads):
            steps.add(task.name)
            reached.update(task.writes)
    return steps


def _steps_recorded(lake, older: int, newer: int) -> set[str]:
    """The steps that recorded keys in bronze.step_runs between two of its versions."""

    def rows(version: int) -> set[tuple]:
        return set(lake.read(STEP_RUNS, version=version).where(F.col("site") == SITE).collect())

    return {row.step for row in rows(newer) - rows(older)}


def _dq_counts(lake, dump_id: str) -> set[tuple]:
    results = dq_results(lake, SITE, dump_id)
    return set(results.select("rule", "failed_rows", "checked_rows", "run_id").collect())


def test_a_refresh_parses_only_the_files_that_changed(quarters, refreshed):
    """A file byte for byte the one its table last loaded is not read again: a quiet
    quarter reads the one file it changed."""
    assert refreshed.files_read[0] == {name for name in DUMP_TABLES if _has(quarters[0], name)}
    for before, after, read in zip(
        quarters[:-1], quarters[1:], refreshed.files_read[1:], strict=True
    ):
        differ = {name for name in DUMP_TABLES if _has(after, name)} - _same(before, after)
        assert read == differ, f"{before.name} -> {after.name}"
    assert [len(read) for read in refreshed.files_read[2:]] == [1, 1, 1]


def test_a_file_not_read_is_still_recorded_and_its_lineage_left_as_it_was(refreshed):
    """The quiet quarters never read Posts.xml, yet each is recorded as loaded with the
    rows bronze.posts holds; the posts' lineage is as the first refresh left it, every
    post in it live and naming no last-seen dump (it is in the current one)."""
    lake, dump_ids = refreshed.lake, refreshed.dump_ids
    assert "Posts.xml" not in set().union(*refreshed.files_read[2:])
    site = F.col("site") == SITE
    loads = lake.read(DUMP_LOADS).where(site & (F.col("table_name") == "posts"))
    by_dump = {row.dump_id: row.rows_loaded for row in loads.collect()}
    posts = lake.read(BRONZE_POSTS).where(site).count()
    assert by_dump == dict.fromkeys(dump_ids[1:], posts) | {dump_ids[0]: by_dump[dump_ids[0]]}

    def posts_lineage(version: int | None = None) -> set[tuple]:
        lineage = lake.read(ROW_LINEAGE, version=version)
        return set(lineage.where(site & (F.col("table_name") == "posts")).collect())

    now = posts_lineage()
    assert now == posts_lineage(refreshed.versions[1][ROW_LINEAGE])
    live = [row for row in now if row.deleted_in_dump_id is None]
    assert len(live) == posts and all(row.last_seen_dump_id is None for row in live)


def _has(quarter: Quarter, name: str) -> bool:
    return (quarter.xml_dir / name).exists()


def _same(before: Quarter, after: Quarter) -> set[str]:
    """The files both quarters have, byte for byte the same."""
    both = [name for name in DUMP_TABLES if _has(before, name) and _has(after, name)]
    return set(filecmp.cmpfiles(before.xml_dir, after.xml_dir, both, shallow=False)[0])


def test_the_refreshes_end_holding_the_dumps_own_numbers(quarters, refreshed):
    lake, later = refreshed.lake, quarters[-1].xml_dir
    rows_in = {
        name: sum(line.lstrip().startswith("<row") for line in path.read_text().splitlines())
        for path in later.glob("*.xml")
        for name in [path.name]
    }
    check_oracles(lake, SITE, later, rows_in)


def test_the_cut_to_the_next_quarter_adds_changes_and_deletes_posts(quarters, refreshed):
    """Posts asked after the cut arrive, posts deleted since leave, and retagged or newly
    answered ones change: every kind of change, named in the lineage."""
    lake, dump_ids = refreshed.lake, refreshed.dump_ids
    check_lineage(lake, SITE, dump_ids[1], quarters[0].xml_dir, quarters[1].xml_dir)


def test_rows_a_dump_deleted_and_a_later_one_brought_back_are_live_again(refreshed):
    lake, dump_ids = refreshed.lake, refreshed.dump_ids
    users = lake.read(ROW_LINEAGE).where((F.col("site") == SITE) & (F.col("table_name") == "users"))
    back = users.where(F.col("changed_in_dump_id") == dump_ids[-1]).collect()
    assert len(back) == 2
    for row in back:
        assert (row.first_seen_dump_id, row.last_seen_dump_id) == (dump_ids[0], None)
        assert row.deleted_in_dump_id is None


def _dies(*args, **kwargs):
    raise RuntimeError("the load died here")


def _noting_parses(read: set[str]):
    """bronze's parse of a raw file, noting the file's name in `read`."""

    def noted(spark, uri, table):
        read.add(uri.rsplit("/", 1)[-1])
        return PARSE(spark, uri, table)

    return noted


@pytest.mark.parametrize("left_behind", ["died", "release", "died-then-recorded"])
def test_after_a_load_that_died_or_a_new_release_a_file_like_the_recorded_one_is_read(
    left_behind, spark, settings, s3_server, quarters, tmp_path, monkeypatch
):
    """A load that died after writing its table leaves rows that no record names, and a
    new release may parse a file differently: the next dump's file, byte for byte the
    one last recorded, is then parsed, not trusted; so is the recorded dump's own file
    when it is run again by its id."""
    from lakehouse import step_runs, steps

    no_new_votes, no_new_users, later = quarters[2], quarters[3], quarters[4]
    users_file = "Users.xml"
    assert filecmp.cmp(no_new_votes.xml_dir / users_file, no_new_users.xml_dir / users_file)
    lake = lake_in_bucket(spark, settings, f"{settings.bucket}-{left_behind}")

    def bronze_users(quarter: Quarter, day: int) -> str:
        packed = tmp_path / quarter.name / f"{SITE}.7z"
        archive = pack_listed(quarter.xml_dir, packed, EARLIER + day * DAY)
        dump_id = ingest_dump(LocalArchive(archive), lake.settings, tmp_path / "ingest").dump_id
        steps.STEPS["bronze_users"](steps.run_context(lake, SITE, dump_id))
        return dump_id

    recorded = bronze_users(no_new_votes, 10)
    if left_behind.startswith("died"):
        with monkeypatch.context() as patch:
            patch.setattr(xml_to_bronze, "record_lineage", _dies)
            with pytest.raises(RuntimeError, match="died"):
                bronze_users(later, 11)  # two users more, written, never recorded
    else:
        monkeypatch.setattr(step_runs, "code_digest", lambda: "the next release")
    read: set[str] = set()
    monkeypatch.setattr(xml_to_bronze, "parse_dump_file", _noting_parses(read))
    if left_behind.endswith("recorded"):
        again = no_new_votes
        steps.STEPS["bronze_users"](steps.run_context(lake, SITE, recorded))
    else:
        again = no_new_users
        bronze_users(again, 12)
    assert read == {users_file}
    lines = (again.xml_dir / users_file).read_text().splitlines()
    rows_in_file = sum(line.lstrip().startswith("<row") for line in lines)
    assert lake.read("bronze.users").where(F.col("site") == SITE).count() == rows_in_file
    users_loads = lake.read(DUMP_LOADS).where(
        (F.col("site") == SITE) & (F.col("table_name") == "users")
    )
    assert users_loads.where(F.col("dump_id") == recorded).count() == 1


def test_a_refresh_counts_its_deletions_by_the_ids_ingest_listed(
    spark, settings, s3_server, s3, quarters, tmp_path
):
    """Before it parses a changed file, a refresh compares the Ids ingest listed beside it
    (every row line's, each once) with the stored ones: with that list cut to three Ids,
    the refresh of bronze.posts stops, writing nothing."""
    from lakehouse import steps

    lake = lake_in_bucket(spark, settings, f"{settings.bucket}-listed-ids")

    def ingest(quarter: Quarter, published: int) -> str:
        archive = pack_listed(quarter.xml_dir, tmp_path / quarter.name / f"{SITE}.7z", published)
        return ingest_dump(LocalArchive(archive), lake.settings, tmp_path / "ingest").dump_id

    cut, later = quarters[0], quarters[-1]
    assert not filecmp.cmp(cut.xml_dir / "Posts.xml", later.xml_dir / "Posts.xml")
    first = ingest(cut, EARLIER)
    steps.STEPS["bronze_posts"](steps.run_context(lake, SITE, first))
    second = ingest(later, EARLIER + DAY)
    key = f"raw/{SITE}/{second}/{read_manifest(lake, SITE, second)[ROW_IDS]['Posts.xml']}"
    listed = pq.read_table(
        io.BytesIO(s3.get_object(Bucket=lake.settings.bucket, Key=key)["Body"].read())
    )
    posts_xml = (later.xml_dir / "Posts.xml").read_text()
    assert listed.column("id").to_pylist() == sorted(
        {int(row_id) for row_id in re.findall(r'<row Id="(-?\d+)"', posts_xml)}
    )
    cut_list = io.BytesIO()
    pq.write_table(listed.slice(0, 3), cut_list)
    s3.put_object(Bucket=lake.settings.bucket, Key=key, Body=cut_list.getvalue())
    version = lake.current_version(BRONZE_POSTS)
    with pytest.raises(
        SourceMismatch, match=f"^bronze.posts of site {SITE}: this write would delete"
    ):
        steps.STEPS["bronze_posts"](steps.run_context(lake, SITE, second))
    assert lake.current_version(BRONZE_POSTS) == version
