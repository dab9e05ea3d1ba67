"""Every table's logical name (`<layer>.<table>`), spelled here and nowhere else.
lakehouse.steps says which step writes each; lakehouse.table_locations says where each
lives on a target."""

from lakehouse.schemas import table_for_file


def bronze(table_name: str) -> str:
    """The bronze table of a dump table: `posts` -> bronze.posts."""
    return f"bronze.{table_name}"


def bronze_of_file(file_name: str) -> str:
    """The bronze table a raw dump file loads into: Posts.xml -> bronze.posts."""
    return bronze(table_for_file(file_name).name)


BRONZE_POSTS = bronze_of_file("Posts.xml")
BRONZE_USERS = bronze_of_file("Users.xml")

# What every bronze load writes besides its table: rejected lines and the dump's history.
REJECTED_ROWS = bronze("rejected_rows")
DUMP_LOADS = bronze("dump_loads")
ROW_LINEAGE = bronze("row_lineage")
# Every step notes there what it computed from, so a run with nothing new skips it.
STEP_RUNS = bronze("step_runs")

# The data-quality step's outputs: rows that passed, rows held back, counts per rule.
POSTS_VALID = bronze("posts_valid")
POSTS_QUARANTINE = bronze("posts_quarantine")
DQ_RESULTS = bronze("dq_results")

SILVER_POSTS = "silver.posts"
SILVER_USERS = "silver.users"

GOLD_POSTS_USERS = "gold.posts_users"
GOLD_MOST_POPULAR_TAGS = "gold.most_popular_tags"
GOLD_MOST_POPULAR_TAGS_MONTHLY = "gold.most_popular_tags_monthly"

# The keys of the tables silver and gold publish: one row per key and site.
PUBLISHED_KEYS: dict[str, tuple[str, ...]] = {
    SILVER_POSTS: ("site", "id"),
    SILVER_USERS: ("site", "id"),
    GOLD_POSTS_USERS: ("site", "user_id"),
    GOLD_MOST_POPULAR_TAGS: ("site", "tag"),
    GOLD_MOST_POPULAR_TAGS_MONTHLY: ("site", "tag", "month"),
}
