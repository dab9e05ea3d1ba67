"""gold.most_popular_tags (per site and tag) and its monthly view."""

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.silver.posts import ANSWER, QUESTION


def _tagged_posts(silver_posts: DataFrame) -> DataFrame:
    """Every question and answer, once per tag of its question."""
    question_tags = silver_posts.where(F.col("post_type_id") == QUESTION).select(
        "site", F.col("id").alias("question_id"), F.explode("tags").alias("tag")
    )
    posts = silver_posts.where(F.col("post_type_id").isin(QUESTION, ANSWER)).select(
        "site", "question_id", "post_type_id", "score", "creation_date"
    )
    return posts.join(question_tags, ["site", "question_id"])


def _measures() -> list[Column]:
    is_question = F.col("post_type_id") == QUESTION
    return [
        F.count(F.when(is_question, 1)).alias("question_count"),
        F.count(F.when(~is_question, 1)).alias("answer_count"),
        F.sum("score").cast("bigint").alias("total_score"),
    ]


def most_popular_tags(silver_posts: DataFrame) -> DataFrame:
    """Per site and tag: questions, answers, total score, and first and last use."""
    is_question = F.col("post_type_id") == QUESTION
    return (
        _tagged_posts(silver_posts)
        .groupBy("site", "tag")
        .agg(
            *_measures(),
            F.min(F.when(is_question, F.col("creation_date"))).alias("first_used"),
            F.max(F.when(is_question, F.col("creation_date"))).alias("last_used"),
        )
    )


def most_popular_tags_monthly(silver_posts: DataFrame) -> DataFrame:
    """Per site, tag and month (UTC) of each post's creation."""
    return (
        _tagged_posts(silver_posts)
        .withColumn("month", F.trunc("creation_date", "month"))
        .groupBy("site", "tag", "month")
        .agg(*_measures())
    )
