"""A sync is never fooled by an empty or partial source: it stops, writing nothing,
unless the dump's manifest vouches for the new count."""

import uuid

import pytest
from pyspark.sql import functions as F

from lakehouse.delta_merge import Slice, SourceMismatch, sync, with_row_hash
from lakehouse.lake import Lake

NAME, SITE = "bronze.guard_test", "guard.example.com"


def rows(lake: Lake, ids: range):
    df = lake.spark.range(ids.start, ids.stop).select(
        F.lit(SITE).alias("site"), "id", (F.col("id") * 2).alias("value")
    )
    return with_row_hash(df, ["value"])


# A sync compares the source with the stored rows by row, or (bronze's refresh) by key.
either_comparison = pytest.mark.parametrize("by_key", [False, True], ids=["by row", "by key"])


def write(lake: Lake, ids: range, expected_rows: int | None = None, by_key: bool = False) -> None:
    source = rows(lake, ids)
    sync(
        lake,
        source,
        Slice(NAME, ["site", "id"], {"site": SITE}, expected_rows=expected_rows),
        source_keys=(lambda: source.select("site", "id")) if by_key else None,
    )


def stored(lake: Lake) -> set[int]:
    return {r.id for r in lake.read(NAME).where(F.col("site") == SITE).collect()}


@pytest.fixture
def lake(spark, settings, s3):
    lake = Lake(spark, settings)
    write(lake, range(0, 10))
    yield lake
    spark.sql(f"DELETE FROM {lake.sql_name(NAME)} WHERE site = '{SITE}'")


@either_comparison
def test_an_empty_source_deletes_nothing_and_says_why(lake, by_key):
    version = lake.current_version(NAME)
    with pytest.raises(
        SourceMismatch,
        match=r"^bronze.guard_test of site guard.example.com: "
        r"this write would delete 10 of its 10 rows \(100%, more than "
        r"LAKE_MAX_DELETED_SHARE=0.5\); nothing was written",
    ):
        write(lake, range(0), by_key=by_key)
    assert lake.current_version(NAME) == version and stored(lake) == set(range(10))


@either_comparison
def test_a_refresh_deleting_a_few_rows_goes_through(lake, by_key):
    version = lake.current_version(NAME)
    write(lake, range(3, 12), by_key=by_key)  # 3 deleted (30%), 2 added
    assert stored(lake) == set(range(3, 12)) and lake.current_version(NAME) == version + 1
    assert {r.value for r in lake.read(NAME).where(F.col("site") == SITE).collect()} == {
        2 * i for i in range(3, 12)
    }


@either_comparison
def test_a_larger_share_needs_the_setting_or_the_manifest(lake, by_key):
    with pytest.raises(SourceMismatch, match="would delete 7 of its 10 rows"):
        write(lake, range(7, 10), by_key=by_key)
    vouched = Lake(lake.spark, lake.settings.model_copy(update={"max_deleted_share": 1.0}))
    write(vouched, range(7, 10), by_key=by_key)
    assert stored(lake) == {7, 8, 9}
    if by_key:  # Keys come from the same file as the rows: they vouch for nothing.
        with pytest.raises(SourceMismatch, match="would delete 2 of its 3 rows"):
            write(lake, range(9, 10), expected_rows=1, by_key=True)
        assert stored(lake) == {7, 8, 9}
    else:
        write(lake, range(9, 10), expected_rows=1)  # the manifest says 1 row: 2 of 3 go
        assert stored(lake) == {9}


def test_a_source_the_manifest_does_not_match_stops(lake):
    version = lake.current_version(NAME)
    with pytest.raises(SourceMismatch, match="the new rows number 9, the dump's manifest says 10"):
        write(lake, range(1, 10), expected_rows=10)
    assert lake.current_version(NAME) == version


def test_a_large_computed_scope_is_rewritten_uncompared(lake):
    """Above `compare_max_rows` stored rows a source the manifest does not count (a table
    computed from bronze) is not compared: the same rows again still take a commit, and
    a smaller source replaces the rows unguarded. A source the manifest counts is
    compared whatever the size."""

    def limited(most: int) -> Lake:
        return Lake(lake.spark, lake.settings.model_copy(update={"compare_max_rows": most}))

    version = lake.current_version(NAME)
    write(limited(10), range(0, 10))
    assert lake.current_version(NAME) == version  # at the limit: compared, unchanged
    write(limited(9), range(0, 10))
    assert lake.current_version(NAME) == version + 1
    with pytest.raises(SourceMismatch, match="the new rows number 9, the dump's manifest says 10"):
        write(limited(0), range(1, 10), expected_rows=10)
    write(limited(0), range(0, 10), expected_rows=10)
    assert lake.current_version(NAME) == version + 1
    write(limited(9), range(7, 10))  # 7 of 10 deleted, past the share: not guarded
    assert stored(lake) == {7, 8, 9} and lake.current_version(NAME) == version + 2


def test_a_large_input_has_a_small_scope_rewritten_uncompared(lake):
    """An aggregate holds few rows computed from many: where its input is large
    (`large_input`), the same rows again take a commit; above the limit by its own rows,
    the input is not counted."""
    asked: list[bool] = []

    def sync_with_input(large: bool, most: int) -> None:
        def input_is_large() -> bool:
            asked.append(large)
            return large

        limited = Lake(lake.spark, lake.settings.model_copy(update={"compare_max_rows": most}))
        into = Slice(NAME, ["site", "id"], {"site": SITE}, large_input=input_is_large)
        sync(limited, rows(lake, range(0, 10)), into)

    version = lake.current_version(NAME)
    sync_with_input(large=False, most=10)
    assert lake.current_version(NAME) == version and asked == [False]
    sync_with_input(large=True, most=10)
    assert lake.current_version(NAME) == version + 1 and asked == [False, True]
    sync_with_input(large=True, most=9)
    assert lake.current_version(NAME) == version + 2 and asked == [False, True]


def test_a_table_made_before_partitioning_is_still_synced(spark, settings, s3):
    """A lake's tables made before they were partitioned by site keep their layout."""
    lake, name = Lake(spark, settings), f"bronze.unpartitioned_{uuid.uuid4().hex[:8]}"
    lake.create(rows(lake, range(0, 10)), name)
    sync(lake, rows(lake, range(3, 12)), Slice(name, ["site", "id"], {"site": SITE}))
    detail = spark.sql(f"DESCRIBE DETAIL {lake.sql_name(name)}").first()
    assert detail["partitionColumns"] == []
    assert {r.id for r in lake.read(name).collect()} == set(range(3, 12))


def test_a_table_created_with_not_null_columns_refuses_a_null_key(spark, settings, s3):
    lake, name = Lake(spark, settings), "bronze.not_null_test"
    keyed = rows(lake, range(0, 3))
    sync(lake, keyed, Slice(name, ["site", "id"], {"site": SITE}, not_null=("site", "id")))
    assert {f.name for f in lake.read(name).schema if not f.nullable} == {"site", "id"}
    null_id = keyed.limit(1).withColumn("id", F.lit(None).cast("bigint"))
    version = lake.current_version(name)
    with pytest.raises(Exception, match="NOT_NULL_CONSTRAINT_VIOLATED"):
        lake.append(null_id, name)
    assert lake.current_version(name) == version and lake.read(name).count() == 3


def test_a_sync_rewrites_its_scope_in_one_write_and_no_other(lake):
    other = "other.example.com"
    others = rows(lake, range(0, 5)).withColumn("site", F.lit(other))
    sync(lake, others, Slice(NAME, ["site", "id"], {"site": other}))
    files_of = F.input_file_name().alias("file")
    others_files = {
        r.file for r in lake.read(NAME).where(F.col("site") == other).select(files_of).collect()
    }
    try:
        source, before = rows(lake, range(3, 12)), lake.current_version(NAME)  # 3 go, 2 come
        sync(lake, source, Slice(NAME, ["site", "id"], {"site": SITE}))
        assert lake.current_version(NAME) == before + 1
        assert stored(lake) == set(range(3, 12))
        (last,) = lake.history(NAME, limit=1).collect()
        assert last.operation == "WRITE", last.operation
        assert last.operationParameters["predicate"] == f"`site` = '{SITE}'"
        still = lake.read(NAME).where(F.col("site") == other).select(files_of, "id").collect()
        assert {r.file for r in still} == others_files and {r.id for r in still} == set(range(5))
        version = lake.current_version(NAME)
        sync(lake, source, Slice(NAME, ["site", "id"], {"site": SITE}))
        assert lake.current_version(NAME) == version  # the same rows again: no commit
    finally:
        lake.spark.sql(f"DELETE FROM {lake.sql_name(NAME)} WHERE site = '{other}'")
