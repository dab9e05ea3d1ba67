"""Bad rows and bad files that reach bronze: every row accounted for, and a bad file
leaves the tables at their last good version."""

import pytest
from pipeline_helpers import put_raw_dump
from pyspark.sql import functions as F

from lakehouse import steps
from lakehouse.bronze.census import BadDumpFile
from lakehouse.lake import Lake

SITE = "bad.example.com"
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
POSTS = HEAD.format(root="posts") + "\n".join(POST_ROWS) + "\n</posts>"


@pytest.fixture(scope="module")
def loaded(lake, s3, settings):
    put_raw_dump(
        s3, settings, SITE, "2020-01-01-badbad01", {"Posts.xml": POSTS, "Users.xml": USERS}
    )
    ctx = steps.run_context(lake, SITE)
    return ctx, steps.bronze_posts(ctx), steps.bronze_users(ctx)


def test_rows_in_equal_rows_stored_plus_rows_rejected(loaded, lake):
    _, posts, _ = loaded
    assert posts.rows_in_file == len(POST_ROWS) == 8
    stored = lake.read("bronze.posts").where(F.col("site") == SITE).count()
    rejected = lake.read("bronze.rejected_rows").where(
        (F.col("site") == SITE) & (F.col("table_name") == "posts")
    )
    assert stored + rejected.count() == 8 and stored == posts.rows_loaded == 3
    assert rejected.count() == posts.rows_rejected == 5
    reasons = " | ".join(r["reason"] for r in rejected.collect())
    assert "duplicate Id 1" in reasons and "no valid Id" in reasons
    assert "duplicate Id 3" in reasons  # an exact copy: one stays in bronze
    assert "Entity 'bogus' not defined" in reasons and "malformed XML" in reasons


def test_dq_quarantines_error_rows_with_their_rules_and_flags_warnings(loaded, lake):
    ctx, _, _ = loaded
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


def test_truncated_file_fails_and_bronze_keeps_its_last_good_version(loaded, lake, s3, settings):
    before = lake.current_version("bronze.posts")
    truncated = POSTS[: POSTS.rindex("</posts>")]
    put_raw_dump(
        s3, settings, SITE, "2020-02-01-badbad02", {"Posts.xml": truncated, "Users.xml": USERS}
    )
    ctx = steps.run_context(lake, SITE, "2020-02-01-badbad02")
    with pytest.raises(BadDumpFile, match=r"Posts.xml: truncated; no closing </posts>"):
        steps.bronze_posts(ctx)
    assert lake.current_version("bronze.posts") == before


def test_rows_lost_between_ingest_and_bronze_are_an_error(loaded, lake, s3, settings):
    put_raw_dump(
        s3, settings, SITE, "2020-03-01-badbad03", {"Posts.xml": POSTS, "Users.xml": USERS}
    )
    key = f"raw/{SITE}/2020-03-01-badbad03/Posts.xml"
    short = POSTS.replace(POST_ROWS[0] + "\n", "")
    s3.put_object(Bucket=settings.bucket, Key=key, Body=short.encode())
    ctx = steps.run_context(lake, SITE, "2020-03-01-badbad03")
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
        steps.run_context(elsewhere, SITE)
