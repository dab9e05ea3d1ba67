"""The numbers a run ends with, read straight from the Delta tables with delta-rs
(no Spark needed): rows per table, data-quality outcome, top tags."""

from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.schemas import DUMP_TABLES
from lakehouse.settings import LakeSettings
from lakehouse.steps import TABLES
from lakehouse.table_locations import table_path
from lakehouse.tables import (
    DQ_RESULTS,
    DUMP_LOADS,
    GOLD_MOST_POPULAR_TAGS,
    POSTS_QUARANTINE,
    POSTS_VALID,
    REJECTED_ROWS,
    ROW_LINEAGE,
    SILVER_POSTS,
    bronze,
)
from lakehouse.target import resolve


def table_uri(settings: LakeSettings, name: str) -> str:
    """The table's path as delta-rs reads it (s3://)."""
    return table_path(settings.bucket, name, scheme="s3")


def delta_table(settings: LakeSettings, name: str):
    """The table through delta-rs, or None for a table not created yet."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(
            table_uri(settings, name), storage_options=resolve(settings).s3.delta_rs()
        )
    except TableNotFoundError:
        return None


def read_site_table(settings: LakeSettings, name: str, site: str, columns=None):
    delta = delta_table(settings, name)
    if delta is None:
        return None
    return delta.to_pyarrow_table(columns=columns, filters=[("site", "=", site)])


def delta_rs_versions(settings: LakeSettings, names) -> dict[str, int | None]:
    """Each table's newest commit, read by delta-rs, or None for a table not created yet
    (lakehouse.table_changes.table_versions reads them through Spark)."""
    versions: dict[str, int | None] = {}
    for name in names:
        delta = delta_table(settings, name)
        versions[name] = None if delta is None else delta.version()
    return versions


def held_dump(settings: LakeSettings, site: str) -> str | None:
    """The dump the site's bronze tables hold: the newest one they loaded."""
    loads = read_site_table(settings, DUMP_LOADS, site, ["dump_id", "published"])
    if loads is None or loads.num_rows == 0:
        return None
    return max(loads.to_pylist(), key=lambda load: load["published"])["dump_id"]


def site_row_count(settings: LakeSettings, name: str, site: str) -> int | None:
    """The site's rows in the table, or None for a table not created yet."""
    table = read_site_table(settings, name, site, ["site"])
    return None if table is None else table.num_rows


def new_attributes(settings: LakeSettings, site: str) -> list[str]:
    """Attributes no schema knows, kept in `_rescued_data`: a new dump format shows here
    the day it arrives ("new attribute `Foo` in Posts.xml, 1,234 rows")."""
    found = []
    for file_name, table in DUMP_TABLES.items():
        rows = read_site_table(settings, bronze(table.name), site, ["_rescued_data"])
        if rows is None or rows.num_rows == 0:
            continue
        keys = pa.concat_arrays([chunk.keys for chunk in rows["_rescued_data"].chunks])
        known = {attribute.name for attribute in table.attributes}
        for entry in pc.value_counts(keys).to_pylist():
            if entry["values"] not in known:
                found.append(
                    f"new attribute `{entry['values']}` in {file_name}, {entry['counts']:,} rows"
                )
    return found


def refresh_changes(settings: LakeSettings, site: str, dump_id: str) -> dict:
    """What loading `dump_id` changed, when it replaced an earlier dump of the site: the
    dump it replaced, and per bronze table the rows it added, changed and deleted."""
    loads = read_site_table(settings, DUMP_LOADS, site, ["dump_id", "published"])
    lineage = read_site_table(
        settings,
        ROW_LINEAGE,
        site,
        ["table_name", "first_seen_dump_id", "changed_in_dump_id", "deleted_in_dump_id"],
    )
    if loads is None or lineage is None:
        return {}
    earlier = {r["dump_id"]: r["published"] for r in loads.to_pylist() if r["dump_id"] != dump_id}
    if not earlier:
        return {}
    changes: dict[str, Counter[str]] = {}
    for row in lineage.to_pylist():
        counts = changes.setdefault(row["table_name"], Counter())
        if row["deleted_in_dump_id"] == dump_id:
            counts["deleted"] += 1
        elif row["first_seen_dump_id"] == dump_id:
            counts["added"] += 1
        elif row["changed_in_dump_id"] == dump_id:
            counts["changed"] += 1
    return {
        "replaced_dump_id": max(earlier, key=lambda dump: earlier[dump]),
        "rows": {table: dict(counts) for table, counts in sorted(changes.items())},
    }


def summarize_site(settings: LakeSettings, site: str, top: int = 10) -> dict:
    rows = {name: site_row_count(settings, name, site) for name in TABLES}
    tags = read_site_table(settings, GOLD_MOST_POPULAR_TAGS, site, ["tag", "question_count"])
    top_tags = []
    if tags is not None:
        ranked = tags.sort_by([("question_count", "descending"), ("tag", "ascending")])
        top_tags = ranked.slice(0, top).to_pylist()
    rejected = read_site_table(settings, REJECTED_ROWS, site, ["table_name"])
    rejected_by_table = (
        {}
        if rejected is None
        else {r["values"]: r["counts"] for r in pc.value_counts(rejected["table_name"]).to_pylist()}
    )
    results = read_site_table(
        settings, DQ_RESULTS, site, ["dump_id", "rule", "criticality", "failed_rows"]
    )
    silver = read_site_table(settings, SILVER_POSTS, site, ["dq_warnings"])
    warned = (
        None
        if silver is None
        else pc.sum(pc.greater(pc.list_value_length(silver["dq_warnings"]), 0)).as_py() or 0
    )
    return {
        "rows": rows,
        "data_quality": {
            "posts_passed": rows.get(POSTS_VALID),
            "posts_warned": warned,
            "posts_quarantined": rows.get(POSTS_QUARANTINE),
            "rows_rejected_at_parse": rejected_by_table,
            "rules": [] if results is None else results.to_pylist(),
        },
        "top_tags": top_tags,
        "new_attributes": new_attributes(settings, site),
    }
