"""Bad rows and bad files that reach bronze: every row accounted for, and a bad file
leaves the tables at their last good version."""

import pytest
from pipeline_helpers import put_raw_dump
from pipeline_helpers import versions as pipeline_versions
from pyspark.sql import functions as F

from lakehouse import steps
from lakehouse.bronze import census
from lakehouse.bronze.census import BadDumpFile
from lakehouse.lake import Lake

HEAD = '\ufeff<?xml version="1.0" encoding="utf-8"?>\n<{root}>\n'
USERS = HEAD.format(root="users") + "\n".join(
    [
        '  <row Id="-1" DisplayName="Community" Reputation="1" />',
        '  <row Id="5" DisplayName="Zoë" Reputation="10" />',
        "</users>",
    ]
)
NOW = "2020-01-01T00:00:00.000"
POST_ROWS = [
    f'  <row Id="1" PostTypeId="1" CreationDate="{NOW}" Score="1" Title="Q" Tags="|a|" '
    'OwnerUserId="5" />',
    f'  <row Id="2" PostTypeId="2" ParentId="1" CreationDate="{NOW}" Score="x" OwnerUserId="5" />',
    f'  <row Id="3" PostTypeId="2" CreationDate="{NOW}" Score="2" OwnerUserId="77" />',
    '  <row Id="4" PostTypeId="1" Title="cut in the middle',
    f'  <row Id="1" PostTypeId="1" CreationDate="{NOW}" Score="9" Title="dup" />',
    f'  <row PostTypeId="1" CreationDate="{NOW}" Score="1" Title="no id" />',
    f'  <row Id="6" PostTypeId="1" CreationDate="{NOW}" Score="0" Title="&bogus;" />',
    f'  <row Id="3" PostTypeId="2" CreationDate="{NOW}" Score="2" OwnerUserId="77" />',
]
NO_ID = POST_ROWS[5]


def posts_file(rows: list[str]) -> str:
    return HEAD.format(root="posts") + "\n".join(rows) + "\n</posts>"


POSTS = posts_file(POST_ROWS)


# Three ways in: with ingest's facts in the manifest, bronze reads the file once; without
# them (a manifest from before them, or a row ingest cannot read an Id from), it takes a
# census first; and with more duplicated Ids than the census lists (here, past one), the
# load ranks every row by Id in Spark instead of the listed ones.
LOADS = {
    "one read": ("bad.example.com", True, [row for row in POST_ROWS if row != NO_ID]),
    "census first": ("census.example.com", False, POST_ROWS),
    "census, Ids not listed": ("unlisted.example.com", False, POST_ROWS),
}
READABLE_POSTS = posts_file(LOADS["one read"][2])


@pytest.fixture(scope="module", params=LOADS)
def loaded(request, lake, s3, settings):
    site, ingest_facts, rows = LOADS[request.param]
    files = {"Posts.xml": posts_file(rows), "Users.xml": USERS}
    put_raw_dump(s3, settings, site, "2020-01-01-badbad01", files, ingest_facts)
    ctx = steps.run_context(lake, site)
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "census, Ids not listed":
            patch.setattr(census, "MAX_LISTED_DUPLICATES", 1)
            patch.setattr(census, "Census", listing_none(census.Census))
        posts = steps.bronze_posts(ctx)
    return ctx, posts, steps.bronze_users(ctx), rows


def listing_none(census_class):
    """Census, but failing the test unless the load got no list of duplicated Ids."""

    def made(counts, duplicated_ids, extra_copies):
        assert duplicated_ids is None, duplicated_ids
        return census_class(counts, duplicated_ids, extra_copies)

    return made


def test_rows_in_equal_rows_stored_plus_rows_rejected(loaded, lake):
    ctx, posts, _, rows = loaded
    site = ctx.site
    assert posts.rows_in_file == len(rows)
    stored = lake.read("bronze.posts").where(F.col("site") == site).count()
    rejected = lake.read("bronze.rejected_rows").where(
        (F.col("site") == site) & (F.col("table_name") == "posts")
    )
    assert stored + rejected.count() == len(rows) and stored == posts.rows_loaded == 3
    assert rejected.count() == posts.rows_rejected == len(rows) - 3
    reasons = " | ".join(r["reason"] for r in rejected.collect())
    assert "duplicate Id 1" in reasons and ("no valid Id" in reasons) == (NO_ID in rows)
    assert "duplicate Id 3" in reasons  # an exact copy: one stays in bronze
    assert "Entity 'bogus' not defined" in reasons and "malformed XML" in reasons


def test_a_newer_dump_replaces_the_rejected_lines_of_the_one_before(lake, s3, settings):
    """The second load finds the site's rejected lines stored and replaces them: the line
    the newer dump mended leaves, the others stay once (an append would hold both), the
    two identical extra copies of one row included."""
    site, rows = "mended.example.com", [*LOADS["one read"][2], POST_ROWS[-1]]
    mended = [row for row in rows if "cut in the middle" not in row]
    for dump_id, posts in (("2020-01-01-badbad01", rows), ("2020-04-01-badbad02", mended)):
        files = {"Posts.xml": posts_file(posts), "Users.xml": USERS}
        put_raw_dump(s3, settings, site, dump_id, files, ingest_facts=True)
        load = steps.bronze_posts(steps.run_context(lake, site, dump_id))
    rejected = lake.read("bronze.rejected_rows").where(F.col("site") == site).collect()
    assert len(rejected) == load.rows_rejected == len(mended) - 3
    assert not any("cut in the middle" in row.raw_line for row in rejected)
    assert any("bogus" in row.raw_line for row in rejected)


def test_dq_quarantines_error_rows_with_their_rules_and_flags_warnings(loaded, lake):
    ctx, *_ = loaded
    steps.bronze_posts_dataquality(ctx)
    quarantined = {
        r["id"]: sorted(e["name"] for e in r["_errors"])
        for r in ctx.site_rows("bronze.posts_quarantine").collect()
    }  # noqa: E501
    assert quarantined == {2: ["score_is_integer"], 3: ["answer_has_parent_id"]}
    (valid,) = ctx.site_rows("bronze.posts_valid").collect()
    assert valid["id"] == 1 and valid["_warnings"] is None
    raw_score = ctx.site_rows("bronze.posts").where("id = 2").first()["_rescued_data"]
    assert raw_score == {"Score": "x"}
    warned = ctx.site_rows("bronze.posts_quarantine").where("id = 3").first()["_warnings"]
    assert [w["name"] for w in warned] == ["owner_user_id_is_known_user"]


def test_truncated_file_fails_and_bronze_keeps_its_last_good_version(lake, s3, settings):
    site = "truncated.example.com"
    truncated = POSTS[: POSTS.rindex("</posts>")]
    put_raw_dump(
        s3, settings, site, "2020-02-01-badbad02", {"Posts.xml": truncated, "Users.xml": USERS}
    )
    before = pipeline_versions(lake)
    with pytest.raises(BadDumpFile, match=r"Posts.xml: truncated; no closing </posts>"):
        steps.bronze_posts(steps.run_context(lake, site))
    assert pipeline_versions(lake) == before


def test_a_file_changed_after_ingest_is_refused_by_its_size(lake, s3, settings):
    site, dump_id = "resized.example.com", "2020-01-01-resized1"
    files = {"Posts.xml": READABLE_POSTS, "Users.xml": USERS}
    put_raw_dump(s3, settings, site, dump_id, files, ingest_facts=True)
    truncated = READABLE_POSTS[: READABLE_POSTS.rindex("</posts>")]
    s3.put_object(Bucket=settings.bucket, Key=f"raw/{site}/{dump_id}/Posts.xml", Body=truncated)
    ctx = steps.run_context(lake, site)
    before = pipeline_versions(lake)
    with pytest.raises(BadDumpFile, match=r"Posts.xml: \d+ bytes, but ingest checked \d+"):
        steps.bronze_posts(ctx)
    assert pipeline_versions(lake) == before


def test_a_forbidden_line_stops_the_one_read_before_any_commit(lake, s3, settings):
    site, dump_id = "doctype.example.com", "2020-04-01-badbad04"
    doctype = READABLE_POSTS.replace(POST_ROWS[2], '  <!DOCTYPE posts [<!ENTITY x "y">]>')
    files = {"Posts.xml": doctype, "Users.xml": USERS}
    put_raw_dump(s3, settings, site, dump_id, files, ingest_facts=True)
    before = pipeline_versions(lake)
    with pytest.raises(BadDumpFile, match="Posts.xml: holds a DOCTYPE or ENTITY declaration"):
        steps.bronze_posts(steps.run_context(lake, site))
    assert pipeline_versions(lake) == before


def test_rows_lost_between_ingest_and_bronze_are_an_error(lake, s3, settings):
    site = "shortened.example.com"
    put_raw_dump(
        s3, settings, site, "2020-03-01-badbad03", {"Posts.xml": POSTS, "Users.xml": USERS}
    )
    key = f"raw/{site}/2020-03-01-badbad03/Posts.xml"
    short = POSTS.replace(POST_ROWS[0] + "\n", "")
    s3.put_object(Bucket=settings.bucket, Key=key, Body=short.encode())
    ctx = steps.run_context(lake, site)
    counted = len(POST_ROWS)
    with pytest.raises(
        BadDumpFile, match=f"read {counted - 1} row lines, but the manifest counted {counted}"
    ):
        steps.bronze_posts(ctx)


def test_missing_site_parameter_is_named(lake):
    with pytest.raises(ValueError, match="`site` parameter is empty"):
        steps.run_context(lake, "")


def test_a_raw_location_holding_no_dump_names_the_setting(lake, s3):
    elsewhere = Lake(
        lake.spark, lake.settings.model_copy(update={"raw_root": f"s3a://{lake.settings.bucket}/x"})
    )
    with pytest.raises(LookupError, match=r"under s3a://.*/x \(setting LAKE_RAW_ROOT"):
        steps.run_context(elsewhere, LOADS["one read"][0])
