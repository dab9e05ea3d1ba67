"""Every dump format change published since 2024, made by the generator and taken
through the whole pipeline: Stack Exchange's own numbers (Tags.xml Count, AnswerCount,
the rows of each file) hold, and each change is handled as docs/dumps.md says. (A dump in
each published format on its own: `lake sample --format <release>`; the unit tests of
xml_check cover each encoding.)"""

import json
from collections import Counter

import pytest
from lxml import etree
from pipeline_helpers import run_pipeline
from pyspark.sql import functions as F

from dump_generator.sample import (
    PUBLISHED_FORMATS,
    WATERMARK_ANSWER_ID,
    WATERMARK_QUESTION_ID,
    pack_sample_dump_per_table,
    spec_for_format,
)
from lakehouse.schemas import DUMP_TABLES
from worker.ingest.ingest_dump import ingest_dump
from worker.ingest.sources import GeneratedSample, LocalArchive
from worker.lake_summary import new_attributes

SITE = "formats.example.com"


@pytest.fixture(scope="module")
def loaded(lake, settings, s3, tmp_path_factory):
    """One dump with every change at once (each a run of its own would cost a pipeline
    run, mostly fixed cost): 2024-04's UTF-16 and deleted posts, the header
    comment, rows out of order, fabricated posts and questions without Tags, and a
    column no schema knows yet."""
    site = SITE
    spec = spec_for_format(
        "2025-06",
        site=site,
        questions=80,
        seed=3,
        new_attribute="AiGenerated",
        **{k: v for k, v in PUBLISHED_FORMATS["2024-04"].items() if k != "tags_format"},
    )
    work = tmp_path_factory.mktemp(site)
    ingested = ingest_dump(GeneratedSample(spec, work / "sample"), settings, work / "work")
    run_pipeline(lake, site, ingested.dump_id)
    xml = work / "sample" / "xml"
    rows = {
        name: [dict(r.attrib) for _, r in etree.iterparse(str(xml / name), tag="row")]
        for name in DUMP_TABLES
    }
    manifest = json.loads(
        s3.get_object(Bucket=settings.bucket, Key=f"raw/{site}/{ingested.dump_id}/manifest.json")[
            "Body"
        ].read()
    )
    return site, spec, rows, manifest


def site_rows(lake, name, site):
    return lake.read(name).where(F.col("site") == site)


def test_every_row_is_stored_or_rejected_and_none_is_rejected(loaded, lake):
    site, _, rows, manifest = loaded
    for name, table in DUMP_TABLES.items():
        assert manifest["rows"][name] == len(rows[name]), name
        assert site_rows(lake, f"bronze.{table.name}", site).count() == len(rows[name]), name
    assert site_rows(lake, "bronze.rejected_rows", site).count() == 0


def test_gold_counts_equal_tags_count_and_answer_count(loaded, lake):
    site, _, rows, _ = loaded
    gold = {
        r["tag"]: r["question_count"]
        for r in site_rows(lake, "gold.most_popular_tags", site).collect()
    }
    assert gold == {t["TagName"]: int(t["Count"]) for t in rows["Tags.xml"]}
    answers = Counter(
        r["question_id"]
        for r in site_rows(lake, "silver.posts", site).where("post_type = 'answer'").collect()
    )
    live = [p for p in rows["Posts.xml"] if "DeletionDate" not in p and p["PostTypeId"] == "1"]
    real = [p for p in live if int(p["Id"]) < WATERMARK_QUESTION_ID]
    assert real
    for question in real:
        assert answers[int(question["Id"])] == int(question["AnswerCount"]), question["Id"]


def test_text_arrives_whole_and_the_original_encoding_is_recorded(loaded, lake):
    site, spec, rows, manifest = loaded
    assert set(manifest["encodings"].values()) == {"UTF-16LE with BOM"}
    titles = {r["Title"] for r in rows["Posts.xml"] if r.get("Title")}
    stored = {r["title"] for r in site_rows(lake, "bronze.posts", site).collect() if r["title"]}
    assert stored == titles and any(not t.isascii() for t in titles)


def test_deleted_posts_stay_in_bronze_and_leave_silver(loaded, lake):
    site, spec, rows, _ = loaded
    deleted = {int(p["Id"]) for p in rows["Posts.xml"] if "DeletionDate" in p}
    assert deleted
    bronze = site_rows(lake, "bronze.posts", site).where(F.col("deletion_date").isNotNull())
    assert {r["id"] for r in bronze.collect()} == deleted
    silver_ids = {r["id"] for r in site_rows(lake, "silver.posts", site).collect()}
    assert not silver_ids & deleted


def test_fabricated_posts_are_quarantined_by_their_rule(loaded, lake):
    site, spec, _, _ = loaded
    quarantined = site_rows(lake, "bronze.posts_quarantine", site).collect()
    assert {r["id"] for r in quarantined} == {WATERMARK_QUESTION_ID, WATERMARK_ANSWER_ID}
    for row in quarantined:
        assert [e["name"] for e in row["_errors"]] == ["is_not_fabricated_watermark_post"]


def test_questions_without_tags_load_with_no_tags(loaded, lake):
    site, spec, rows, _ = loaded
    untagged = {
        int(p["Id"]) for p in rows["Posts.xml"] if p["PostTypeId"] == "1" and "Tags" not in p
    }
    assert untagged
    silver = site_rows(lake, "silver.posts", site).where(F.col("id").isin(*untagged or [0]))
    assert all(r["tags"] == [] for r in silver.collect())


def test_a_new_attribute_is_rescued_and_named_in_the_summary(loaded, lake, settings):
    site, spec, rows, _ = loaded
    messages = new_attributes(settings, site)
    posts = sum(spec.new_attribute in row for row in rows["Posts.xml"])
    assert posts > len(rows["Posts.xml"]) / 2
    assert messages == [f"new attribute `{spec.new_attribute}` in Posts.xml, {posts:,} rows"]
    rescued = site_rows(lake, "bronze.posts", site).where(
        F.col("_rescued_data")[spec.new_attribute].isNotNull()
    )
    assert rescued.count() == posts


def test_stack_overflow_as_one_archive_or_one_per_table(settings, s3, tmp_path):
    spec = spec_for_format("2025-06", site="stackoverflow.com", questions=30)
    per_table = pack_sample_dump_per_table(spec, tmp_path / "xml", tmp_path / "split")
    assert len(per_table) == len(DUMP_TABLES)
    split = ingest_dump(LocalArchive(tmp_path / "split"), settings, tmp_path / "w1")
    whole = ingest_dump(GeneratedSample(spec, tmp_path / "one"), settings, tmp_path / "w2")
    assert split.site == whole.site == "stackoverflow.com"
    assert split.rows == whole.rows and split.sha1 == whole.sha1
