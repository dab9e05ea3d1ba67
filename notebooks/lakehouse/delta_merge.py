"""Idempotent writes: a source whose rows are already stored as they are commits nothing
(up to a size, for tables computed from bronze), and a new dump of a site replaces that
site's rows exactly (`sync`), by rewriting them whole once a comparison has found a
change; history tables take new rows by a Delta MERGE (`upsert`)."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F

from lakehouse.lake import Lake, quote_sql
from lakehouse.write_conflicts import retry_on_conflict

ROW_HASH = "_row_hash"


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
    """One SQL MERGE of `changes` (rows new, or changed by their hash) into `name`."""
    source = f"merge_source_{uuid.uuid4().hex}"
    changes.createOrReplaceTempView(source)
    on = " AND ".join(f"target.`{key}` = source.`{key}`" for key in keys)
    clauses = (
        f"WHEN MATCHED AND target.{ROW_HASH} <> source.{ROW_HASH} THEN UPDATE SET * "
        "WHEN NOT MATCHED THEN INSERT *"
    )
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


def _upsert(
    lake: Lake,
    source: DataFrame,
    name: str,
    keys: list[str],
    properties: dict[str, str] | None,
) -> None:
    if not lake.exists(name):
        lake.create(source, name, properties=properties)
        return
    stored = lake.read(name).select(*keys, ROW_HASH)
    # Without this filter MERGE would rewrite every file it matches, changed or not.
    changes = source.join(stored, [*keys, ROW_HASH], "left_anti")
    if not changes.isEmpty():
        _merge(lake, changes, name, keys)


def scope_filter(scope: dict[str, str]) -> Column:
    """`scope` (column -> value, e.g. {"site": ...}) as a Spark condition."""
    condition = F.lit(True)
    for column, value in scope.items():
        condition = condition & (F.col(column) == value)
    return condition


def scope_sql(scope: dict[str, str]) -> str:
    """`scope` as a SQL condition, for Delta's replaceWhere."""
    return " AND ".join(f"`{column}` = '{quote_sql(value)}'" for column, value in scope.items())


class SourceMismatch(ValueError):
    """A sync whose source does not look like the data it should replace."""


@dataclass(frozen=True)
class Synced:
    """What a sync left: the rows its scope holds, and whether it held none before (then
    the rows were appended)."""

    rows: int
    first_rows: bool


@dataclass(frozen=True)
class Slice:
    """The rows of table `name` in `scope`, found by their `keys`, and what a sync of them
    is told: a created table's `not_null` columns and `properties`, how many rows the
    source holds by the dump's manifest (`expected_rows`), whether the scope holds rows
    (`stored_rows`, None: look), and whether the rows the source is computed from number
    more than the setting `compare_max_rows` (`large_input`: an aggregate's input, which
    its own stored rows do not show; asked only where the table's stored rows would have
    it compared)."""

    name: str
    keys: list[str]
    scope: dict[str, str]
    not_null: tuple[str, ...] = ()
    properties: dict[str, str] | None = None
    expected_rows: int | None = None
    stored_rows: bool | None = None
    large_input: Callable[[], bool] | None = None


def sync(
    lake: Lake,
    source: DataFrame,
    into: Slice,
    source_keys: Callable[[], DataFrame] | None = None,
) -> Synced:
    """Make the rows of `into` (a table's rows in a scope: one site, or one site's rows
    of one table) equal `source`. Nothing outside the scope changes. Returns how many
    rows the scope holds now, counted on the way (no job of its own).

    A scope with no rows stored yet gets its rows appended: a first load is most of the
    data a lake ever receives. (An append is not checked against another writer of the
    scope, as a replaceWhere would be; a site's runs never write at once: they hold its
    lock, and each target runs one job at a time.) That write is not preceded by a check
    that `source` has rows (a round trip, and for bronze a parse); an empty source then
    leaves an empty commit. A table created here gets the Delta table `properties`, its
    `not_null` columns refuse nulls, and it is partitioned by the scope's columns: Delta
    then drops a scope's files by its log where it rewrites them (in a table made before,
    unpartitioned, it reads them twice). `stored_rows` says whether the scope holds
    rows, where the caller already knows (None: look).

    A scope that holds rows is first compared with `source` in one job, by key and row
    hash (one full outer join), and one with changes is then rewritten whole in one
    write (Delta's replaceWhere): a MERGE would rewrite nearly every file anyway where the
    changes spread over every key, as a dump's do, in more jobs. Unchanged rows are
    written again, so a column that says when (a dump id, a check's time) tells when the
    scope was last rewritten. `source` must be unique on `keys`: a replaceWhere does not
    refuse two rows for one key. The comparison and the write each read `source`, unless
    `source_keys` is given: it returns the keys of `source`'s rows, each once, cheaper
    to compute than the rows (for bronze, the Ids ingest listed beside the raw file),
    and is called only where the scope holds rows. Then the comparison reads those
    alone, and the scope is rewritten however it compares: the caller skips a source it
    knows to be unchanged.

    The deletions are guarded: a source that would delete more than the setting
    `max_deleted_share` of the stored rows stops the sync, unless `expected_rows` (what
    the dump's manifest says the source holds) vouches for its size, when a source of
    any other size stops it instead. Keys alone vouch for nothing (they come from the
    same file), so a sync by `source_keys` always guards the share. Either way nothing
    is written, and the error says which table and site.

    A source with neither (a table computed from bronze) whose scope holds more rows
    than the setting `compare_max_rows`, counted where `stored_rows` is not given, or
    whose input does (`large_input`), is not compared: it is rewritten, even with the
    same rows, and unguarded. Its rows would be computed twice, once to compare and
    once to write, and on a large site, whose every refresh changes rows, the comparison
    costs more than it saves. Its input passed bronze's guard; a new check or transform
    that drops rows does not stop.
    """
    return retry_on_conflict(partial(_sync, lake, source, into, source_keys), f"sync {into.name}")


def _sync(
    lake: Lake, source: DataFrame, into: Slice, source_keys: Callable[[], DataFrame] | None
) -> Synced:
    name, scope, most_compared = into.name, into.scope, lake.settings.compare_max_rows
    held: int | None = None  # the stored rows, up to one more than `most_compared`
    if lake.exists(name):
        stored = lake.read(name).where(scope_filter(scope))
        if into.stored_rows is None:
            # One job says whether the scope holds rows, and whether more than are compared.
            held = stored.limit(most_compared + 1).count()
            first_rows = held == 0
        else:
            first_rows = not into.stored_rows
    elif into.not_null:
        lake.create_empty(
            name, source.schema, into.not_null, into.properties, partition_by=list(scope)
        )
        first_rows = True
    else:
        counted_source, rows = counted(source)
        lake.create(counted_source, name, partition_by=list(scope), properties=into.properties)
        return Synced(_rows_written(rows, lake, name, scope), first_rows=True)
    if first_rows:
        if into.expected_rows == 0:  # The manifest's count spares a write of nothing.
            return Synced(0, first_rows=True)
        counted_source, rows = counted(source)
        lake.append(counted_source, name)
        return Synced(_rows_written(rows, lake, name, scope), first_rows=True)
    if source_keys is not None:
        # Keys carry no hash: `_compare` then counts the source, the stored rows and the
        # gone ones as for rows (its `changed` only the new keys; the scope is written anyway).
        keys_only = source_keys().withColumn(ROW_HASH, F.lit(None).cast("bigint"))
        _check_source(lake, into, _compare(side_by_side(keys_only, stored, into.keys)), by_key=True)
        return _rewrite(lake, source, into)
    if into.expected_rows is None and (
        (held is not None and held > most_compared)
        or (into.large_input is not None and into.large_input())
    ):
        return _rewrite(lake, source, into)
    counts = _compare(side_by_side(source, stored, into.keys))
    _check_source(lake, into, counts)
    if counts.changed or counts.gone:
        lake.replace_where(source, name, scope_sql(scope))
    return Synced(counts.source, first_rows=False)


def _rewrite(lake: Lake, source: DataFrame, into: Slice) -> Synced:
    """Replace the rows of `into` with `source`'s, uncompared, in one write."""
    counted_source, rows = counted(source)
    lake.replace_where(counted_source, into.name, scope_sql(into.scope))
    return Synced(_rows_written(rows, lake, into.name, into.scope), first_rows=False)


def counted(df: DataFrame, condition: Column | None = None) -> tuple[DataFrame, Observation]:
    """`df`, counting its rows (those that meet `condition`) as they pass, with Spark's
    observed metrics: the count comes with the first action on it, at no job of its own."""
    rows = Observation(f"rows_{uuid.uuid4().hex}")
    count = F.count(F.lit(1)) if condition is None else F.count_if(condition)
    return df.observe(rows, count.alias("rows")), rows


def observed_rows(rows: Observation) -> int | None:
    """What `counted` counted, or None when the engine reported no metrics for the
    action (none ran yet, or a write command it does not report them for)."""
    count: int | None = rows.get.get("rows")
    return count


def _rows_written(rows: Observation, lake: Lake, name: str, scope: dict[str, str]) -> int:
    """The rows the write put in `scope`, as observed, or else counted again."""
    observed = observed_rows(rows)
    if observed is None:
        return lake.read(name).where(scope_filter(scope)).count()
    return observed


@dataclass(frozen=True)
class SliceCounts:
    """How a source compares with the stored rows it replaces, by key and row hash."""

    source: int
    stored: int
    changed: int  # new, or stored with another hash
    gone: int  # stored, not in the source


_IN_SOURCE, _IN_STORED, _STORED_HASH = "_in_source", "_in_stored", "_stored_hash"


def gone() -> Column:
    """A stored row the source no longer has."""
    return F.col(_IN_SOURCE).isNull()


def changed() -> Column:
    """A source row that is new, or stored with another hash."""
    stored_hash = F.col(_STORED_HASH)
    return F.col(_IN_SOURCE) & (stored_hash.isNull() | (F.col(ROW_HASH) != stored_hash))


def side_by_side(source: DataFrame, stored: DataFrame, keys: list[str]) -> DataFrame:
    """Every source row beside the stored row of its keys (by hash), and stored rows the
    source lacks: one full outer join, which `changed()` and `gone()` read. (The source
    appears once in it: a source carrying observed metrics may not appear twice in one
    Spark Connect plan.)"""
    theirs = stored.select(
        *keys, F.col(ROW_HASH).alias(_STORED_HASH), F.lit(True).alias(_IN_STORED)
    )
    return source.withColumn(_IN_SOURCE, F.lit(True)).join(theirs, keys, "full_outer")


def _compare(both: DataFrame) -> SliceCounts:
    """One job: the source is read once here, however large (for bronze, a parse)."""
    in_source, in_stored = F.col(_IN_SOURCE).isNotNull(), F.col(_IN_STORED).isNotNull()
    row = both.agg(
        F.count_if(in_source).alias("source"),
        F.count_if(in_stored).alias("stored"),
        F.count_if(changed()).alias("changed"),
        F.count_if(gone()).alias("gone"),
    ).first()
    assert row is not None  # An aggregate without grouping has one row.
    return SliceCounts(**row.asDict())


def _describe(scope: dict[str, str]) -> str:
    return ", ".join(f"{column} {value}" for column, value in scope.items())


def _check_source(lake: Lake, into: Slice, counts: SliceCounts, by_key: bool = False) -> None:
    """Refuse a source that would delete rows it should not (see `sync`). Only a refresh
    can delete, so a first load is not counted again."""
    where, expected_rows = f"{into.name} of {_describe(into.scope)}", into.expected_rows
    if expected_rows is not None and not by_key:
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
