"""gold.posts_users: one row per user with what they asked, answered and earned."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.silver.posts import ANSWER, QUESTION


def posts_users(silver_posts: DataFrame, silver_users: DataFrame) -> DataFrame:
    """Per site and user: questions, answers and scores, beside the user's profile."""
    activity = (
        silver_posts.where(F.col("owner_user_id").isNotNull())
        .groupBy("site", F.col("owner_user_id").alias("user_id"))
        .agg(
            F.count(F.when(F.col("post_type_id") == QUESTION, 1)).alias("questions"),
            F.count(F.when(F.col("post_type_id") == ANSWER, 1)).alias("answers"),
            F.count(F.when(F.col("is_accepted_answer"), 1)).alias("accepted_answers"),
            F.sum(F.when(F.col("post_type_id").isin(QUESTION, ANSWER), F.col("score")))
            .cast("bigint")
            .alias("total_score"),
            F.min("creation_date").alias("first_post_at"),
            F.max("creation_date").alias("last_post_at"),
        )
    )
    users = silver_users.select(
        "site",
        F.col("id").alias("user_id"),
        "display_name",
        "reputation",
        "creation_date",
        "last_access_date",
    )
    counts = ["questions", "answers", "accepted_answers", "total_score"]
    return (
        users.join(activity, ["site", "user_id"], "left")
        .fillna(0, subset=counts)
        .withColumn(
            "activity_span_days",
            F.datediff(F.col("last_post_at"), F.col("first_post_at")),
        )
    )
