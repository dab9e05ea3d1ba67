"""Questions people ask of the lake, answered in Spark and handed over as small pandas
frames (notebooks/explore.ipynb and the gold notebooks draw them with lakehouse.plots)."""

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from lakehouse import plots
from lakehouse.lake import Lake
from lakehouse.steps import TABLES
from lakehouse.tables import GOLD_MOST_POPULAR_TAGS_MONTHLY, GOLD_POSTS_USERS, SILVER_POSTS

if TYPE_CHECKING:
    import pandas as pd

# Enough points for a distribution plot, however big the site.
MAX_POINTS = 200_000


def row_counts(lake: Lake) -> "pd.DataFrame":
    """Rows per table (rows) and site (columns), for the tables that exist."""
    counts = [
        lake.read(name).groupBy("site").count().withColumn("table", F.lit(name))
        for name in TABLES
        if lake.exists(name)
    ]
    if not counts:
        raise LookupError("The lake has no tables yet; run `make local-run` first")
    union = counts[0]
    for more in counts[1:]:
        union = union.unionByName(more)
    # PySpark types toPandas with pandas, whose missing types mypy cannot resolve there.
    counts_frame: pd.DataFrame = union.toPandas()
    table = counts_frame.pivot(index="table", columns="site", values="count")
    return table.reindex([name for name in TABLES if name in table.index]).fillna(0).astype(int)


def monthly_tag_questions(lake: Lake, site: str) -> "pd.DataFrame":
    """Questions per tag and month of the site, for the tag trend plot."""
    monthly = lake.read(GOLD_MOST_POPULAR_TAGS_MONTHLY).where(F.col("site") == site)
    return monthly.select("tag", "month", "question_count").toPandas()


def hours_to_first_answer(lake: Lake, site: str) -> list[float]:
    """Hours from each question of the site to its first answer, for at most MAX_POINTS
    questions: Spark picks them and their answers, lakehouse.plots computes the waits as
    it does for the report."""
    posts = lake.read(SILVER_POSTS).where(F.col("site") == site).select(*plots.POST_TIMES)
    questions = posts.where(F.col("post_type") == "question").limit(MAX_POINTS)
    answers = posts.where(F.col("post_type") == "answer").join(
        questions.select(F.col("id").alias("question_id")), "question_id", "left_semi"
    )
    return plots.hours_to_first_answer(questions.unionByName(answers).toPandas())


def most_active_users(lake: Lake, site: str, top: int = 15) -> "pd.DataFrame":
    """The site's `top` users by questions and answers, with their counts."""
    users = lake.read(GOLD_POSTS_USERS).where(F.col("site") == site)
    ranked = users.orderBy((F.col("questions") + F.col("answers")).desc(), "user_id")
    return ranked.limit(top).toPandas()
