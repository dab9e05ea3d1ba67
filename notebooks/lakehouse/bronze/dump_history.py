"""A site's dumps over time, kept beside the current tables.

- `bronze.dump_loads`: which dumps each bronze table of a site has taken in, and when
  each was published. Dumps are applied in publication order: a dump older than the
  one a table holds is refused, so the current tables never roll back.
- `bronze.row_lineage`: per row of every bronze table (site, table, Id), the dump it was
  first seen in, last seen in, last changed in, and deleted in. A refresh updates it in
  the same step that replaces the table's rows, so "what changed between two dumps"
  is one query over it (README: Refresh).

Delta's change data feed would say the same for recent commits, but it lives only as
long as the table's log and its change files (30 and 7 days by default), and the dumps
come a quarter apart; this table keeps the history for as long as the lake lives.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import functions as F

from lakehouse.delta_merge import ROW_HASH, with_row_hash
from lakehouse.lake import Lake
from lakehouse.write_conflicts import retry_on_conflict

DUMP_LOADS = "bronze.dump_loads"
ROW_LINEAGE = "bronze.row_lineage"


class OlderDump(ValueError):
    """A dump that would roll a table back to an older state of its site."""


@dataclass(frozen=True)
class DumpRelease:
    dump_id: str
    published: datetime


def release_of(manifest: dict) -> DumpRelease:
    """The dump's id and publication time, from its ingest manifest (manifests written
    before the time was recorded date the dump by its id's date)."""
    dump_id = manifest["dump_id"]
    if manifest.get("published"):
        published = datetime.fromisoformat(manifest["published"])
    else:
        published = datetime.strptime(dump_id[:10], "%Y-%m-%d").replace(tzinfo=UTC)
    return DumpRelease(dump_id, published.astimezone(UTC))


def loads_of(lake: Lake, site: str, table_name: str) -> list:
    """The dumps `bronze.<table_name>` of `site` has taken in, with their publication."""
    if not lake.exists(DUMP_LOADS):
        return []
    scope = (F.col("site") == site) & (F.col("table_name") == table_name)
    return lake.read(DUMP_LOADS).where(scope).select("dump_id", "published").collect()


def check_order(loads: list, site: str, table_name: str, release: DumpRelease) -> None:
    """Raise OlderDump unless `release` is the table's current dump (of `loads`) or newer."""
    if not loads:
        return
    current = max(loads, key=lambda load: load.published)
    if release.dump_id == current.dump_id:
        return
    holds = (
        f"bronze.{table_name} of {site} holds dump {current.dump_id} "
        f"(published {current.published:%Y-%m-%d %H:%M})"
    )
    this = f"dump {release.dump_id} (published {release.published:%Y-%m-%d %H:%M})"
    if release.published.replace(tzinfo=None) == current.published.replace(tzinfo=None):
        raise OlderDump(
            f"{this} and {holds} were published at the same time; no order between them "
            "is known, so neither replaces the other"
        )
    if release.published.replace(tzinfo=None) < current.published.replace(tzinfo=None):
        raise OlderDump(
            f"{this} is older than the one in the lake: {holds}. An older dump never "
            "replaces a newer one; its raw files stay in the lake, and the tables as they "
            "were then are there by Delta time travel (README: Refresh)"
        )


def record_lineage(lake: Lake, site: str, table_name: str, dump_id: str) -> None:
    """Fold the site's rows of `bronze.<table_name>`, as they stand after loading
    `dump_id`, into bronze.row_lineage. A site's first load of the table appends: every
    row is new, and a MERGE would join them all with the table for nothing."""
    scope = (F.col("site") == site) & (F.col("table_name") == table_name)
    if not lake.exists(ROW_LINEAGE) or lake.read(ROW_LINEAGE).where(scope).isEmpty():
        rows = lake.read(f"bronze.{table_name}").where(F.col("site") == site)
        dump = F.lit(dump_id)
        never = F.lit(None).cast("string")
        new_rows = rows.select(
            "site", F.lit(table_name).alias("table_name"), "id",
            dump.alias("first_seen_dump_id"), dump.alias("last_seen_dump_id"),
            dump.alias("changed_in_dump_id"), never.alias("deleted_in_dump_id"), ROW_HASH,
        )  # fmt: skip
        lake.append(new_rows, ROW_LINEAGE)
        return
    site_q, table_q, dump_q = (value.replace("'", "''") for value in (site, table_name, dump_id))
    statement = f"""
        MERGE INTO {lake.sql_name(ROW_LINEAGE)} AS t
        USING (
            SELECT site, '{table_q}' AS table_name, id, {ROW_HASH}
            FROM {lake.sql_name(f"bronze.{table_name}")} WHERE site = '{site_q}'
        ) AS s
        ON t.site = s.site AND t.table_name = s.table_name AND t.id = s.id
        WHEN MATCHED AND (t.last_seen_dump_id <> '{dump_q}' OR t.deleted_in_dump_id IS NOT NULL
                          OR t.{ROW_HASH} <> s.{ROW_HASH}) THEN UPDATE SET
            changed_in_dump_id = CASE WHEN t.{ROW_HASH} <> s.{ROW_HASH}
                OR t.deleted_in_dump_id IS NOT NULL THEN '{dump_q}' ELSE t.changed_in_dump_id END,
            last_seen_dump_id = '{dump_q}',
            deleted_in_dump_id = NULL,
            {ROW_HASH} = s.{ROW_HASH}
        WHEN NOT MATCHED THEN INSERT
            (site, table_name, id, first_seen_dump_id, last_seen_dump_id, changed_in_dump_id,
             deleted_in_dump_id, {ROW_HASH})
            VALUES (s.site, s.table_name, s.id, '{dump_q}', '{dump_q}', '{dump_q}', NULL,
                    s.{ROW_HASH})
        WHEN NOT MATCHED BY SOURCE AND t.site = '{site_q}' AND t.table_name = '{table_q}'
            AND t.deleted_in_dump_id IS NULL THEN UPDATE SET deleted_in_dump_id = '{dump_q}'
    """
    retry_on_conflict(lambda: lake.spark.sql(statement), f"merge {ROW_LINEAGE}")


def record_load(
    lake: Lake,
    site: str,
    table_name: str,
    release: DumpRelease,
    rows_loaded: int,
    rows_rejected: int,
    loaded_at: datetime,
) -> None:
    """Note that `bronze.<table_name>` of `site` now holds `release` (an append: a load
    is recorded once, after its lineage)."""
    row = lake.spark.createDataFrame(
        [(site, table_name, release.dump_id, release.published, rows_loaded, rows_rejected,
          loaded_at)],
        "site string, table_name string, dump_id string, published timestamp, "
        "rows_loaded bigint, rows_rejected bigint, loaded_at timestamp",
    )  # fmt: skip
    lake.append(with_row_hash(row, ["published", "rows_loaded", "rows_rejected"]), DUMP_LOADS)
