"""A site's dumps over time, kept beside the current tables.

- `bronze.dump_loads`: which dumps each bronze table of a site has taken in, and when
  each was published. Dumps are applied in publication order: a dump older than the
  one a table holds is refused, so the current tables never roll back.
- `bronze.row_lineage`: per row of every bronze table (site, table, Id), the dump it was
  first seen in, last changed in, deleted in and, once deleted, last seen in. A refresh
  updates it in the same step that replaces the table's rows, so "what changed between
  two dumps" is one query over it (docs/refresh.md).

Delta's change data feed would say the same for recent commits, but it lives only as
long as the table's log and its change files (30 and 7 days by default), and the dumps
come a quarter apart; this table keeps the history for as long as the lake lives.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from lakehouse.delta_merge import ROW_HASH, with_row_hash
from lakehouse.lake import Lake, quote_sql, skipping_stats
from lakehouse.tables import DUMP_LOADS, ROW_LINEAGE, bronze
from lakehouse.write_conflicts import retry_on_conflict

if TYPE_CHECKING:
    from lakehouse.bronze.xml_to_bronze import BronzeLoad

# Partitioned by what a refresh rewrites, a site's rows of some tables, which Delta then
# drops without reading them. Min and max per file only for the Id, which a lineage query
# selects by: the other columns would cost a third of the write (every bronze row has a
# lineage row), and skip nothing.
LINEAGE_PARTITIONS = ["site", "table_name"]
LINEAGE_PROPERTIES = skipping_stats(["id"])


class OlderDump(ValueError):
    """A dump that would roll a table back to an older state of its site."""


@dataclass(frozen=True)
class DumpRelease:
    """A dump's id and publication time, which orders the dumps of a site."""

    dump_id: str
    published: datetime


def release_of(manifest: dict[str, Any]) -> DumpRelease:
    """The dump's id and publication time, from its ingest manifest (manifests written
    before the time was recorded date the dump by its id's date)."""
    dump_id = manifest["dump_id"]
    if manifest.get("published"):
        published = datetime.fromisoformat(manifest["published"])
    else:
        published = datetime.strptime(dump_id[:10], "%Y-%m-%d").replace(tzinfo=UTC)
    return DumpRelease(dump_id, published.astimezone(UTC))


LOAD_COLUMNS = ["table_name", "dump_id", "published", "rows_loaded", "rows_rejected"]


def site_loads(lake: Lake, site: str) -> DataFrame | None:
    """The dumps of `site` each bronze table has taken in (LOAD_COLUMNS), or None before
    any load of any site."""
    if not lake.exists(DUMP_LOADS):
        return None
    return lake.read(DUMP_LOADS).where(F.col("site") == site).select(*LOAD_COLUMNS)


def loads_by_table(rows: Iterable[Row]) -> dict[str, list[Row]]:
    """Rows of `site_loads`, grouped by bronze table."""
    loads: dict[str, list[Row]] = {}
    for row in rows:
        loads.setdefault(row.table_name, []).append(row)
    return loads


def current_load(loads: list[Row]) -> Row | None:
    """Of a table's loads (rows of `site_loads`), the one of its newest dump."""
    return max(loads, key=lambda load: load.published) if loads else None


def check_order(loads: list[Row], site: str, table_name: str, release: DumpRelease) -> None:
    """Raise OlderDump unless `release` is the table's current dump (of `loads`) or newer."""
    current = current_load(loads)
    if current is None:
        return
    if release.dump_id == current.dump_id:
        return
    holds = (
        f"{bronze(table_name)} of {site} holds dump {current.dump_id} "
        f"(published {current.published:%Y-%m-%d %H:%M})"
    )
    this = f"dump {release.dump_id} (published {release.published:%Y-%m-%d %H:%M})"
    # Spark hands the stored times back naive, in the session's zone, which is UTC.
    published, held = release.published.replace(tzinfo=None), current.published.replace(tzinfo=None)
    if published == held:
        raise OlderDump(
            f"{this} and {holds} were published at the same time; no order between them "
            "is known, so neither replaces the other. If it is the newer, state when it was "
            "published: LAKE_DUMP_PUBLISHED=YYYY-MM-DD (make local-run PUBLISHED=YYYY-MM-DD)"
        )
    if published < held:
        raise OlderDump(
            f"{this} is older than the one in the lake: {holds}. An older dump never "
            "replaces a newer one; its raw files stay in the lake, and the tables as they "
            "were then are there by Delta time travel (docs/refresh.md)"
        )


def record_lineage(
    lake: Lake, site: str, replaced: dict[str, str | None], dump_id: str, held: bool | None
) -> None:
    """Fold the site's rows of the bronze tables, as they stand after loading `dump_id`,
    into bronze.row_lineage: one write for all of them. `replaced` names each table and
    the dump its load replaces (None: its first load), which a row it deleted was last
    seen in. `held` says whether the lineage holds rows of them, where the caller knows
    (None: look). Where it holds none (a first load), they are appended; else their
    lineage is rewritten (`_lineage_after`)."""
    current = None
    for name in replaced:
        rows = lake.read(bronze(name)).where(F.col("site") == site)
        rows = rows.select(F.lit(name).alias("table_name"), "id", ROW_HASH)
        current = rows if current is None else current.unionByName(rows)
    assert current is not None  # The callers name at least one table.
    tables = ", ".join(f"'{quote_sql(name)}'" for name in replaced)
    in_scope = f"site = '{quote_sql(site)}' AND table_name IN ({tables})"
    if held is None:
        held = lake.exists(ROW_LINEAGE) and not lake.read(ROW_LINEAGE).where(in_scope).isEmpty()
    if not held:
        dump, never = F.lit(dump_id), F.lit(None).cast("string")
        new_rows = current.select(
            F.lit(site).alias("site"),
            "table_name",
            "id",
            dump.alias("first_seen_dump_id"),
            never.alias("last_seen_dump_id"),
            dump.alias("changed_in_dump_id"),
            never.alias("deleted_in_dump_id"),
            ROW_HASH,
        )
        lake.append(new_rows, ROW_LINEAGE, LINEAGE_PROPERTIES, partition_by=LINEAGE_PARTITIONS)
        return
    stored = lake.read(ROW_LINEAGE).where(in_scope)
    lineage = _lineage_after(current, stored, replaced, site, dump_id)
    retry_on_conflict(
        lambda: lake.replace_where(lineage, ROW_LINEAGE, in_scope), f"replace {ROW_LINEAGE}"
    )


_IN_BRONZE, _STORED_HASH = "_in_bronze", "_stored_hash"


def _lineage_after(
    current: DataFrame, stored: DataFrame, replaced: dict[str, str | None], site: str, dump_id: str
) -> DataFrame:
    """The lineage of the `replaced` tables once they hold `dump_id`: their stored lineage
    rows beside the bronze rows (`current`: table, Id, hash), in one full outer join.
    A bronze row new, changed or brought back was changed in this dump; a live lineage
    row bronze no longer has was deleted in it, and last seen in the dump its table held
    before (where no load of it is recorded, as after a first load that died before its
    record, in the dump it last changed in). It is written whole, in one write, as
    `lakehouse.delta_merge.sync` writes a scope."""
    theirs = stored.select(
        "table_name",
        "id",
        "first_seen_dump_id",
        "last_seen_dump_id",
        "changed_in_dump_id",
        "deleted_in_dump_id",
        F.col(ROW_HASH).alias(_STORED_HASH),
    )
    ours = current.withColumn(_IN_BRONZE, F.lit(True))
    both = ours.join(theirs, ["table_name", "id"], "full_outer")
    in_bronze = F.col(_IN_BRONZE).isNotNull()
    was_live = F.col("first_seen_dump_id").isNotNull() & F.col("deleted_in_dump_id").isNull()
    changed = in_bronze & (~was_live | ~F.col(ROW_HASH).eqNullSafe(F.col(_STORED_HASH)))
    gone = ~in_bronze & was_live
    replaced_dump = F.lit(None).cast("string")
    for table_name, held_dump in replaced.items():
        replaced_dump = F.when(F.col("table_name") == table_name, held_dump).otherwise(
            replaced_dump
        )
    dump, none = F.lit(dump_id), F.lit(None).cast("string")
    return both.select(
        F.lit(site).alias("site"),
        "table_name",
        "id",
        F.coalesce("first_seen_dump_id", dump).alias("first_seen_dump_id"),
        F.when(gone, F.coalesce(replaced_dump, "changed_in_dump_id"))
        .when(in_bronze, none)
        .otherwise(F.col("last_seen_dump_id"))
        .alias("last_seen_dump_id"),
        F.when(changed, dump).otherwise(F.col("changed_in_dump_id")).alias("changed_in_dump_id"),
        F.when(gone, dump)
        .when(in_bronze, none)
        .otherwise(F.col("deleted_in_dump_id"))
        .alias("deleted_in_dump_id"),
        F.when(in_bronze, F.col(ROW_HASH)).otherwise(F.col(_STORED_HASH)).alias(ROW_HASH),
    )


def record_loads(
    lake: Lake, site: str, release: DumpRelease, loads: "list[BronzeLoad]", loaded_at: datetime
) -> None:
    """Note that these bronze loads (BronzeLoad) of `site` now hold `release`: one
    append, after their lineage, so a load is recorded once."""
    rows = lake.spark.createDataFrame(
        [
            (
                site,
                load.table,
                release.dump_id,
                release.published,
                load.rows_loaded,
                load.rows_rejected,
                loaded_at,
            )
            for load in loads
        ],
        "site string, table_name string, dump_id string, published timestamp, "
        "rows_loaded bigint, rows_rejected bigint, loaded_at timestamp",
    )
    lake.append(with_row_hash(rows, ["published", "rows_loaded", "rows_rejected"]), DUMP_LOADS)
