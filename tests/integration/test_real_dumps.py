"""The real dumps in ../shared/stackexchange, read in place, against Stack Exchange's
own numbers: Tags.xml Count, each question's AnswerCount, and the rows in each file
(counted here with lxml, independently of the pipeline's parser)."""

from collections import Counter

import py7zr
import pytest
from lxml import etree
from pipeline_helpers import run_pipeline
from pyspark.sql import functions as F

from ingest.ingest_dump import ingest_dump
from ingest.sources import LocalArchive
from lakehouse.schemas import DUMP_TABLES

pytestmark = pytest.mark.realdump

# From ../shared/stackexchange/README.md: Posts, Users, Comments, Votes, Badges, Tags,
# PostLinks, PostHistory.
PUBLISHED_ROWS = {
    "french.meta.stackexchange.com": (781, 1703, 1305, 4349, 4002, 94, 134, 2881),
    "bicycles.meta.stackexchange.com": (1446, 2551, 2448, 5671, 6585, 94, 189, 3994),
}
FILE_ORDER = (
    "Posts.xml",
    "Users.xml",
    "Comments.xml",
    "Votes.xml",
    "Badges.xml",
    "Tags.xml",
    "PostLinks.xml",
    "PostHistory.xml",
)


# The French meta dump goes through the same checks as the fresh load of
# tests/integration/test_refresh_real_dump.py, which loads it anyway: one pipeline run less.
@pytest.fixture(scope="module", params=["bicycles.meta.stackexchange.com"])
def real_dump(request, shared_dumps, lake, settings, s3, tmp_path_factory):
    site = request.param
    archive = shared_dumps / f"{site}.7z"
    if not archive.exists():
        pytest.skip(f"{archive} is absent on this machine")
    work = tmp_path_factory.mktemp(site)
    ingested = ingest_dump(LocalArchive(archive), settings, work)
    assert ingested.dump_id.startswith(("2021-09-", "2023-09-"))  # from the _files.xml mtime
    run_pipeline(lake, site, ingested.dump_id)
    with py7zr.SevenZipFile(archive) as packed:
        packed.extractall(work / "xml")
    rows = {
        name: [dict(row.attrib) for _, row in etree.iterparse(str(work / "xml" / name), tag="row")]
        for name in DUMP_TABLES
    }
    return site, rows


def test_row_counts_match_the_published_ones(real_dump):
    site, rows = real_dump
    assert tuple(len(rows[name]) for name in FILE_ORDER) == PUBLISHED_ROWS[site]


def test_bronze_plus_rejected_equals_the_rows_of_each_file(real_dump, lake):
    site, rows = real_dump
    rejected = Counter(
        r["table_name"]
        for r in lake.read("bronze.rejected_rows").where(F.col("site") == site).collect()
    )
    for name, table in DUMP_TABLES.items():
        stored = lake.read(f"bronze.{table.name}").where(F.col("site") == site).count()
        assert stored + rejected[table.name] == len(rows[name]), name


def test_gold_question_count_equals_tags_count(real_dump, lake):
    site, rows = real_dump
    gold = {
        r["tag"]: r["question_count"]
        for r in lake.read("gold.most_popular_tags").where(F.col("site") == site).collect()
    }
    for tag in rows["Tags.xml"]:
        assert gold.get(tag["TagName"], 0) == int(tag["Count"]), tag["TagName"]


def test_silver_answer_count_equals_answer_count(real_dump, lake):
    site, rows = real_dump
    answers = Counter(
        r["question_id"]
        for r in lake.read("silver.posts")
        .where((F.col("site") == site) & (F.col("post_type") == "answer"))
        .collect()
    )
    questions = [p for p in rows["Posts.xml"] if p["PostTypeId"] == "1"]
    assert questions
    for question in questions:
        assert answers[int(question["Id"])] == int(question.get("AnswerCount", 0)), question["Id"]


def test_no_post_is_quarantined_or_rejected(real_dump, lake):
    site, _ = real_dump
    assert lake.read("bronze.posts_quarantine").where(F.col("site") == site).count() == 0
    assert lake.read("bronze.rejected_rows").where(F.col("site") == site).count() == 0
