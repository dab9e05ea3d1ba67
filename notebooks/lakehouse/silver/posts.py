"""silver.posts: one row per post, tags as an array, a plain-text body beside the HTML,
and each answer tied to its question. Deleted posts (a `DeletionDate`, as in the first
2024-04 release) stay in bronze and are left out here."""

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StringType

from lakehouse.silver.text import html_to_text_series

POST_TYPES = {
    1: "question", 2: "answer", 3: "orphaned_tag_wiki", 4: "tag_wiki_excerpt", 5: "tag_wiki",
    6: "moderator_nomination", 7: "wiki_placeholder", 8: "privilege_wiki", 9: "article",
    10: "help_article", 12: "collection", 13: "moderator_questionnaire_response",
    14: "announcement", 15: "collective_discussion", 17: "collective_collection",
}  # fmt: skip
QUESTION, ANSWER = 1, 2


def html_to_text_column(markup: Column) -> Column:
    # Built per call: a UDF made at import time is bound to whichever Spark (classic or
    # Connect) existed then, and notebooks import this before their session starts.
    """The text of an HTML body as a Spark column: tags dropped, entities decoded."""
    # PySpark's stubs type pandas_udf only with a functionType, not from type hints.
    text: Column = F.pandas_udf(html_to_text_series, StringType())(markup)  # type: ignore[call-overload]
    return text


def parse_tags(tags: Column) -> Column:
    """Both dump formats to an array: `<a><b>` (until 2023) and `|a|b|` (2024 on)."""
    piped = F.filter(F.split(tags, r"\|"), lambda tag: tag != F.lit(""))
    angled = F.regexp_extract_all(tags, F.lit(r"<([^<>]+)>"), 1)
    return F.when(tags.isNull(), F.array().cast("array<string>")).otherwise(
        F.when(tags.startswith("|"), piped).otherwise(angled)
    )


def _post_type_name(post_type_id: Column) -> Column:
    mapping = F.create_map(*[F.lit(x) for pair in POST_TYPES.items() for x in pair])
    return mapping[post_type_id]


def build_silver_posts(valid_posts: DataFrame) -> DataFrame:
    """One row per live post of the posts that passed data quality."""
    posts = valid_posts.where(F.col("deletion_date").isNull()).select(
        "site",
        "id",
        "post_type_id",
        _post_type_name(F.col("post_type_id")).alias("post_type"),
        F.when(F.col("post_type_id") == QUESTION, F.col("id"))
        .when(F.col("post_type_id") == ANSWER, F.col("parent_id"))
        .alias("question_id"),
        "parent_id",
        "accepted_answer_id",
        "creation_date",
        "deletion_date",
        "score",
        "view_count",
        "title",
        parse_tags(F.col("tags")).alias("tags"),
        F.col("body").alias("body_html"),
        html_to_text_column(F.col("body")).alias("body_text"),
        "owner_user_id",
        "owner_display_name",
        "last_editor_user_id",
        "last_edit_date",
        "last_activity_date",
        "answer_count",
        "comment_count",
        "favorite_count",
        "closed_date",
        "community_owned_date",
        "content_license",
        F.transform(F.coalesce(F.col("_warnings"), F.array()), lambda w: w["name"]).alias(
            "dq_warnings"
        ),
        "dump_id",
    )
    accepted = posts.where(F.col("accepted_answer_id").isNotNull()).select(
        "site", F.col("accepted_answer_id").alias("id"), F.lit(True).alias("is_accepted_answer")
    )
    return posts.join(accepted, ["site", "id"], "left").withColumn(
        "is_accepted_answer",
        F.when(F.col("post_type_id") == ANSWER, F.coalesce("is_accepted_answer", F.lit(False))),
    )
