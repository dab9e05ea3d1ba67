from datetime import datetime

import pyarrow as pa
import pytest
from pyspark.sql import functions as F

from lakehouse.gold.most_popular_tags import most_popular_tags, most_popular_tags_monthly
from lakehouse.gold.posts_users import posts_users
from lakehouse.silver.posts import build_silver_posts, parse_tags
from lakehouse.silver.text import html_to_text, html_to_text_series
from lakehouse.silver.users import build_silver_users


@pytest.mark.parametrize(
    ("raw", "tags"),
    [
        ("<python><apache-spark>", ["python", "apache-spark"]),
        ("|python|apache-spark|", ["python", "apache-spark"]),
        ("|c++|c#|.net|", ["c++", "c#", ".net"]),
        ("<c++><c#>", ["c++", "c#"]),
        (None, []),
    ],
)
def test_both_tag_formats(spark, raw, tags):
    df = spark.createDataFrame([(raw,)], "tags string")
    assert df.select(parse_tags(F.col("tags"))).first()[0] == tags


def test_html_to_text():
    assert html_to_text("<p>a &amp; b&#xA;<code>x &lt; 2</code></p>\n") == "a & b x < 2"
    assert html_to_text(None) is None


@pytest.mark.parametrize("values", [[None, None], ["<b>x</b>", None], ["<i>y</i>"], []])
def test_html_to_text_series_gives_strings_arrow_takes_back_for_any_batch(values):
    """As a pandas UDF's batch arrives and leaves: a batch of nothing but missing values
    came back as float64, which Arrow made a ChunkedArray of, and the worker failed."""
    batch = pa.array(values, pa.string()).to_pandas()
    texts = pa.Array.from_pandas(html_to_text_series(batch), type=pa.string())
    assert isinstance(texts, pa.Array)
    assert texts.to_pylist() == [html_to_text(value) for value in values]


def test_silver_users_whose_changed_rows_all_lack_about_me(spark):
    """A quiet quarter's refresh converts only its new users, who have no AboutMe."""
    bronze_users = spark.createDataFrame(
        [("s", 7, "New", 1, None), ("s", 8, "Newer", 1, None)],
        "site string, id bigint, display_name string, reputation int, about_me string",
    ).select("*", *[F.lit(None).cast(t).alias(c) for c, t in _USER_COLUMNS])
    rows = build_silver_users(bronze_users).select("id", "about_me_text").collect()
    assert sorted(tuple(row) for row in rows) == [(7, None), (8, None)]


# bronze.users' other columns, for tests that set only a few.
_USER_COLUMNS = [
    ("creation_date", "timestamp"),
    ("last_access_date", "timestamp"),
    ("website_url", "string"),
    ("location", "string"),
    ("views", "int"),
    ("up_votes", "int"),
    ("down_votes", "int"),
    ("profile_image_url", "string"),
    ("account_id", "bigint"),
    ("dump_id", "string"),
]


def day(n):
    return datetime(2024, 1, n)  # Spark hands back naive UTC times (session zone UTC).


POSTS = [  # id, type, parent, accepted, tags, score, owner, created
    (1, 1, None, 3, "<a><b>", 5, 10, day(1)),
    (2, 2, 1, None, None, 1, 11, day(2)),
    (3, 2, 1, None, None, 4, 11, day(3)),
    (4, 1, None, None, "|b|", 2, 11, day(4)),
    (5, 5, None, None, None, 0, -1, day(5)),
]
POST_SCHEMA = (
    "id bigint, post_type_id int, parent_id bigint, accepted_answer_id bigint, "
    "tags string, score int, owner_user_id bigint, creation_date timestamp"
)


@pytest.fixture(scope="module")
def silver_posts(spark):
    bronze = spark.createDataFrame(POSTS, POST_SCHEMA)
    for column in (
        "deletion_date",
        "last_edit_date",
        "last_activity_date",
        "closed_date",
        "community_owned_date",
    ):
        bronze = bronze.withColumn(column, F.lit(None).cast("timestamp"))
    for column in ("title", "body", "owner_display_name", "content_license"):
        bronze = bronze.withColumn(column, F.lit("<p>x</p>"))
    for column in (
        "view_count",
        "answer_count",
        "comment_count",
        "favorite_count",
        "last_editor_user_id",
    ):
        bronze = bronze.withColumn(column, F.lit(0))
    bronze = bronze.withColumn("site", F.lit("s")).withColumn("dump_id", F.lit("d"))
    bronze = bronze.withColumn("_warnings", F.lit(None).cast("array<struct<name:string>>"))
    return build_silver_posts(bronze)


def test_silver_posts_makes_question_answer_explicit(silver_posts):
    rows = {r["id"]: r for r in silver_posts.collect()}
    assert rows[2]["question_id"] == 1 and rows[1]["question_id"] == 1
    assert rows[3]["is_accepted_answer"] is True and rows[2]["is_accepted_answer"] is False
    assert rows[1]["is_accepted_answer"] is None
    assert rows[4]["tags"] == ["b"] and rows[1]["tags"] == ["a", "b"]
    assert rows[1]["body_text"] == "x" and rows[5]["post_type"] == "tag_wiki"


def test_most_popular_tags(silver_posts):
    tags = {r["tag"]: r for r in most_popular_tags(silver_posts).collect()}
    assert tags["a"]["question_count"] == 1 and tags["a"]["answer_count"] == 2
    assert tags["b"]["question_count"] == 2 and tags["b"]["answer_count"] == 2
    assert tags["a"]["total_score"] == 10 and tags["b"]["total_score"] == 12
    assert tags["b"]["first_used"] == day(1) and tags["b"]["last_used"] == day(4)
    monthly = most_popular_tags_monthly(silver_posts).where("tag = 'b'").first()
    assert str(monthly["month"]) == "2024-01-01" and monthly["question_count"] == 2


def test_posts_users(spark, silver_posts):
    users = build_silver_users(
        spark.createDataFrame(
            [("s", 10, " Ann ", 100), ("s", 11, "Bo", 5), ("s", 12, "", 1)],
            "site string, id bigint, display_name string, reputation int",
        ).select(
            "*",
            F.lit(None).cast("string").alias("about_me"),
            *[F.lit(None).cast(t).alias(c) for c, t in _USER_COLUMNS],
        )
    )
    rows = {r["user_id"]: r for r in posts_users(silver_posts, users).collect()}
    assert rows[10]["display_name"] == "Ann" and rows[12]["display_name"] is None
    assert (rows[11]["questions"], rows[11]["answers"], rows[11]["accepted_answers"]) == (1, 2, 1)
    assert rows[11]["total_score"] == 7 and rows[11]["activity_span_days"] == 2
    assert rows[12]["questions"] == 0 and rows[12]["first_post_at"] is None
