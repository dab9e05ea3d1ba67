"""Logical table names in a query become the lake's Delta paths, and nothing else does."""

from lakehouse.table_locations import DeltaPaths


class PathsWhereAllButOneExist(DeltaPaths):
    """Delta paths whose tables all exist but `gold.missing`."""

    def exists(self, spark, name: str) -> bool:
        return name != "gold.missing"


class EchoSpark:
    """A Spark that hands back the query it was given."""

    def sql(self, query: str) -> str:
        return query


def rewritten(query: str) -> str:
    return PathsWhereAllButOneExist("lake-b").sql(EchoSpark(), query)


def test_logical_names_become_delta_paths():
    assert rewritten("SELECT * FROM gold.posts_users g JOIN silver.users u ON g.x = u.y") == (
        "SELECT * FROM delta.`s3a://lake-b/gold/posts_users` g "
        "JOIN delta.`s3a://lake-b/silver/users` u ON g.x = u.y"
    )


def test_catalog_names_quoted_names_and_missing_tables_are_left_alone():
    for query in (
        "SELECT * FROM main.gold.posts_users",
        "SELECT * FROM `gold.posts_users`",
        "SELECT * FROM gold.missing",
        "SELECT gold.posts_users.site FROM t",
    ):
        assert rewritten(query) == query
