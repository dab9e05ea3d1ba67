"""What a step tells the orchestrator that ran it: the tables it changed.

A table changed when its newest commit is not the one it had before the step (the
history tables the bronze steps share may also move by another step's commit). Each
changed table becomes an Asset event whose extra says which site, which dump the run
loaded, the table's version and the site's rows in it, and for the data-quality tables
the step's outcome. On Databricks a notebook ends with these as its exit value, which
the Airflow operator reads from the run's output; the local Airflow operator reads the
same facts from the lake with delta-rs. Both build the extras here.
"""

from collections.abc import Callable, Iterable, Mapping
from functools import reduce

from lakehouse.lake import Lake
from lakehouse.tables import DQ_RESULTS, POSTS_QUARANTINE, POSTS_VALID

# The tables of the data-quality step, whose events also carry its outcome.
QUALITY_TABLES = (POSTS_VALID, POSTS_QUARANTINE, DQ_RESULTS)


def changed_tables(before: dict[str, int | None], after: dict[str, int | None]) -> list[str]:
    """The tables whose newest commit is not the one they had before (in `after`'s order)."""
    return [
        name for name, version in after.items() if version is not None and version != before[name]
    ]


def table_extras(
    site: str,
    dump_id: str,
    before: dict[str, int | None],
    after: dict[str, int | None],
    count_rows: Callable[[list[str]], Mapping[str, int | None]],
) -> dict[str, dict[str, str | int | None]]:
    """Per table changed between the versions `before` and `after`, its event's extra;
    `count_rows(names)` counts the site's rows of each of those tables, all in one call."""
    changed = changed_tables(before, after)
    outcome = [POSTS_VALID, POSTS_QUARANTINE] if set(changed) & set(QUALITY_TABLES) else []
    needed = list(dict.fromkeys(changed + outcome))
    rows = count_rows(needed) if needed else {}
    extras = {}
    for name in changed:
        extra = {"site": site, "dump_id": dump_id, "version": after[name], "rows": rows[name]}
        if name in QUALITY_TABLES:
            extra["posts_passed"] = rows[POSTS_VALID]
            extra["posts_quarantined"] = rows[POSTS_QUARANTINE] or 0
        extras[name] = extra
    return extras


def table_versions(lake: Lake, names: Iterable[str]) -> dict[str, int | None]:
    """Each table's newest commit, None for one that does not exist yet."""
    return {name: lake.current_version(name) if lake.exists(name) else None for name in names}


def site_row_counts(lake: Lake, site: str, names: list[str]) -> dict[str, int | None]:
    """The site's rows in each table of `names` (None where it does not exist), counted
    in one Spark job: on Databricks each count of its own cost a round trip and a job."""
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F  # Here: Airflow's DAG parsing imports this module.

    counts: dict[str, int | None] = dict.fromkeys(names)
    per_table = [
        lake.read(name)
        .where(F.col("site") == site)
        .agg(F.count(F.lit(1)).alias("rows"))
        .select(F.lit(name).alias("name"), "rows")
        for name in names
        if lake.exists(name)
    ]
    if per_table:
        for row in reduce(DataFrame.unionByName, per_table).collect():
            counts[row["name"]] = row["rows"]
    return counts


def changes_since(
    lake: Lake, site: str, dump_id: str, before: dict[str, int | None]
) -> dict[str, dict[str, str | int | None]]:
    """The extras of the tables of `before` (name -> version then) that changed since."""
    after = table_versions(lake, before)
    return table_extras(
        site, dump_id, before, after, lambda names: site_row_counts(lake, site, names)
    )
