"""silver.users: one row per user, blanks made null, profile text as plain text."""

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.silver.posts import html_to_text_column

COMMUNITY_USER_ID = -1


def _blank_to_null(column: str) -> Column:
    trimmed = F.trim(F.col(column))
    return F.when(trimmed != "", trimmed).alias(column)


def build_silver_users(bronze_users: DataFrame) -> DataFrame:
    """bronze.users cleaned for analysis: blanks as nulls, typed and trimmed."""
    return bronze_users.select(
        "site",
        "id",
        _blank_to_null("display_name"),
        (F.col("id") == COMMUNITY_USER_ID).alias("is_community"),
        "reputation",
        "creation_date",
        "last_access_date",
        _blank_to_null("website_url"),
        _blank_to_null("location"),
        F.col("about_me").alias("about_me_html"),
        html_to_text_column(F.col("about_me")).alias("about_me_text"),
        "views",
        "up_votes",
        "down_votes",
        _blank_to_null("profile_image_url"),
        "account_id",
        "dump_id",
    )
