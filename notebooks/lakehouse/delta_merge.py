"""Idempotent writes with Delta MERGE: rows already stored as they are stay untouched,
so re-running the same dump commits nothing and rewrites no data file, and a new dump
of a site replaces that site's rows exactly (`sync`)."""

import uuid
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.lake import Lake
from lakehouse.write_conflicts import retry_on_conflict

ROW_HASH = "_row_hash"
_DELETE = "_delete"


def with_row_hash(df: DataFrame, columns: list[str]) -> DataFrame:
    """`df` with `_row_hash`, a 64-bit hash of `columns` (map-typed ones through JSON,
    because Spark's hash functions refuse maps)."""
    parts = [
        F.to_json(F.col(f"`{c}`"))
        if "map<" in df.schema[c].dataType.simpleString()
        else F.col(f"`{c}`")
        for c in columns
    ]
    return df.withColumn(ROW_HASH, F.xxhash64(*parts))


def _merge(lake: Lake, changes: DataFrame, name: str, keys: list[str]) -> None:
    """One SQL MERGE of `changes` (rows new or changed by their hash, and with `_delete`
    the rows to remove) into `name`."""
    source = f"merge_source_{uuid.uuid4().hex}"
    changes.createOrReplaceTempView(source)
    on = " AND ".join(f"target.`{key}` = source.`{key}`" for key in keys)
    changed = f"target.{ROW_HASH} <> source.{ROW_HASH}"
    if _DELETE in changes.columns:
        columns = [f"`{c}`" for c in changes.columns if c != _DELETE]
        updates = ", ".join(f"target.{c} = source.{c}" for c in columns)
        values = ", ".join(f"source.{c}" for c in columns)
        clauses = (
            f"WHEN MATCHED AND source.{_DELETE} THEN DELETE "
            f"WHEN MATCHED AND {changed} THEN UPDATE SET {updates} "
            f"WHEN NOT MATCHED AND NOT source.{_DELETE} "
            f"THEN INSERT ({', '.join(columns)}) VALUES ({values})"
        )
    else:
        clauses = f"WHEN MATCHED AND {changed} THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *"
    try:
        lake.spark.sql(
            f"MERGE INTO {lake.sql_name(name)} AS target USING {source} AS source ON {on} {clauses}"
        )
    finally:
        lake.spark.catalog.dropTempView(source)


def upsert(
    lake: Lake,
    source: DataFrame,
    name: str,
    keys: list[str],
    properties: dict[str, str] | None = None,
) -> None:
    """Insert new rows and update changed ones (by `_row_hash`); never delete. For tables
    that keep history, one row per dump or per run.

    `source` must be unique on `keys`: MERGE rejects several source rows per target row.
    """
    retry_on_conflict(lambda: _upsert(lake, source, name, keys, properties), f"upsert {name}")


def _upsert(lake, source, name, keys, properties) -> None:
    if not lake.exists(name):
        lake.create(source, name, properties=properties)
        return
    stored = lake.read(name).select(*keys, ROW_HASH)
    # Without this filter MERGE would rewrite every file it matches, changed or not.
    changes = source.join(stored, [*keys, ROW_HASH], "left_anti")
    if not changes.isEmpty():
        _merge(lake, changes, name, keys)


def scope_filter(scope: dict[str, str]):
    """`scope` (column -> value, e.g. {"site": ...}) as a Spark condition."""
    condition = F.lit(True)
    for column, value in scope.items():
        condition = condition & (F.col(column) == value)
    return condition


class SourceMismatch(ValueError):
    """A sync whose source does not look like the data it should replace."""


def sync(
    lake: Lake,
    source: DataFrame,
    name: str,
    keys: list[str],
    scope: dict[str, str],
    not_null: tuple[str, ...] = (),
    properties: dict[str, str] | None = None,
    expected_rows: int | None = None,
) -> None:
    """Make the rows of `name` in `scope` (one site, or one site's rows of one table)
    equal `source`: insert, update and delete as needed. Nothing outside `scope` changes.

    A scope with no rows stored yet gets a plain write: a first load is most of the data
    a lake ever receives, and a MERGE into an empty slice would join every row with the
    table and read `source` twice more. A table created here gets the Delta table
    `properties`, and its `not_null` columns refuse nulls.

    The deletions are guarded: with `expected_rows` (what the dump's manifest says the
    source holds) a source of any other size stops the sync; without it, so does one
    that would delete more than the setting `max_deleted_share` of the stored rows.
    Either way nothing is written, and the error says which table and site. The check
    and the decision to MERGE at all come from one comparison job, so a refresh reads
    `source` twice: once to compare, once in the MERGE.
    """
    retry_on_conflict(
        lambda: _sync(lake, source, name, keys, scope, not_null, properties, expected_rows),
        f"sync {name}",
    )


def _sync(lake, source, name, keys, scope, not_null, properties, expected_rows) -> None:
    if lake.exists(name):
        stored = lake.read(name).where(scope_filter(scope))
        first_rows = stored.isEmpty()
    elif not_null:
        lake.create_empty(name, source.schema, not_null, properties)
        first_rows = True
    else:
        lake.create(source, name, properties=properties)
        return
    if first_rows:
        # The manifest's count spares a pass over the source (a parse, for bronze).
        has_rows = expected_rows > 0 if expected_rows is not None else not source.isEmpty()
        if has_rows:
            lake.overwrite_slice(source, name, scope)
        return
    counts = _compare(source, stored, keys)
    _check_source(lake, name, scope, counts, expected_rows)
    if counts.changed or counts.gone:
        changed = source.join(stored.select(*keys, ROW_HASH), [*keys, ROW_HASH], "left_anti")
        gone = stored.join(source.select(*keys), keys, "left_anti").select(source.columns)
        changes = changed.withColumn(_DELETE, F.lit(False)).unionByName(
            gone.withColumn(_DELETE, F.lit(True))
        )
        _merge(lake, changes, name, keys)


@dataclass(frozen=True)
class SliceCounts:
    """How a source compares with the stored rows it replaces, by key and row hash."""

    source: int
    stored: int
    changed: int  # new, or stored with another hash
    gone: int  # stored, not in the source


def _compare(source: DataFrame, stored: DataFrame, keys: list[str]) -> SliceCounts:
    """One job: the source is read once here, however large (for bronze, a parse)."""
    stored_hash = "_stored_hash"
    theirs = stored.select(*keys, F.col(ROW_HASH).alias(stored_hash), F.lit(True).alias("_s"))
    ours = source.select(*keys, ROW_HASH, F.lit(True).alias("_n"))
    in_source, in_stored = F.col("_n").isNotNull(), F.col("_s").isNotNull()
    different = F.col(stored_hash).isNull() | (F.col(ROW_HASH) != F.col(stored_hash))
    row = (
        ours.join(theirs, keys, "full_outer")
        .agg(
            F.count_if(in_source).alias("source"),
            F.count_if(in_stored).alias("stored"),
            F.count_if(in_source & different).alias("changed"),
            F.count_if(in_stored & ~in_source).alias("gone"),
        )
        .first()
    )
    return SliceCounts(**row.asDict())


def _describe(scope: dict[str, str]) -> str:
    return ", ".join(f"{column} {value}" for column, value in scope.items())


def _check_source(lake, name, scope, counts: SliceCounts, expected_rows) -> None:
    """Refuse a source that would delete rows it should not (see `sync`). Only a refresh
    can delete, so a first load is not counted again."""
    where = f"{name} of {_describe(scope)}"
    if expected_rows is not None:
        if counts.source != expected_rows:
            raise SourceMismatch(
                f"{where}: the new rows number {counts.source:,}, the dump's manifest says "
                f"{expected_rows:,}; nothing was written"
            )
        return
    share, stored_rows, deleted = lake.settings.max_deleted_share, counts.stored, counts.gone
    if deleted > stored_rows * share:
        raise SourceMismatch(
            f"{where}: this write would delete {deleted:,} of its {stored_rows:,} rows "
            f"({deleted / stored_rows:.0%}, more than LAKE_MAX_DELETED_SHARE={share}); nothing "
            "was written. If the site really shrank, run again with LAKE_MAX_DELETED_SHARE=1"
        )
