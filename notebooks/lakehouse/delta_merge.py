"""Idempotent upserts with Delta MERGE: unchanged rows are left alone, so a re-run of
the same dump rewrites no data file."""

from lakehouse.lake import Lake

ROW_HASH = "_row_hash"


def upsert(lake: Lake, source, name: str, keys: list[str], constraints: dict[str, str] | None = None):
    """MERGE `source` into table `name` on `keys`; create the table on first use.

    `source` must be unique on `keys` (MERGE rejects several source rows per target row)
    and carry `_row_hash`, so that only changed rows are rewritten.
    """
    if not lake.exists(name):
        lake.create(source, name)
        if constraints:
            lake.add_constraints(name, constraints)
        return
    table = lake.delta_table(name)
    # Drop rows the table already holds as they are: MERGE would otherwise rewrite
    # every file it matches, even when no row in it changes.
    changed = source.join(table.toDF().select(*keys, ROW_HASH), [*keys, ROW_HASH], "left_anti")
    condition = " AND ".join(f"target.{key} = source.{key}" for key in keys)
    (
        table.alias("target")
        .merge(changed.alias("source"), condition)
        .whenMatchedUpdateAll(condition=f"target.{ROW_HASH} <> source.{ROW_HASH}")
        .whenNotMatchedInsertAll()
        .execute()
    )
