"""Load one raw dump file into its bronze table.

The file is read as text lines, so Spark splits it across every core; the lines are
parsed inside `mapInArrow` (see lakehouse.bronze.xml_rows). Where ingest recorded the
file's duplicated Ids (and listed its Ids, which a refresh compares with the stored ones
for the deletion guard), the write is the only read of the file; otherwise a census
comes first (lakehouse.bronze.census). Either way a bad file leaves bronze at its last
good version. The rejected lines are written after the rows, and only a file that has
some is read for them again.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial, reduce
from typing import Any

from pyspark.sql import DataFrame, Row, SparkSession, Window
from pyspark.sql import functions as F

from lakehouse.bronze.census import (
    BadDumpFile,
    census_of_dump_file,
    check_size,
    known_duplicates,
    refusals_named,
    refuse_forbidden,
    take_census,
)
from lakehouse.bronze.dump_history import (
    check_order,
    current_load,
    loads_by_table,
    record_lineage,
    record_loads,
    release_of,
    site_loads,
)
from lakehouse.bronze.dump_lines import map_lines
from lakehouse.bronze.xml_rows import REJECTED, ROW, arrow_schema, parse_lines
from lakehouse.delta_merge import ROW_HASH, Slice, sync, with_row_hash
from lakehouse.lake import Lake, skipping_stats
from lakehouse.raw_layout import MANIFEST, ROW_IDS
from lakehouse.schemas import TIMESTAMP, DumpTable, table_for_file
from lakehouse.tables import REJECTED_ROWS, bronze

LINEAGE = ["site", "dump_id", "source_file", "ingested_at"]


@dataclass(frozen=True)
class DumpToLoad:
    """A site's dump to load into bronze: the lake, the dump, when it is loaded, and what
    to call before the first write: of a table's rows (once a file has passed its
    census), or of the history tables alone."""

    lake: Lake
    site: str
    dump_id: str
    ingested_at: datetime
    before_writing: Callable[[], None] = lambda: None
    before_rewriting_rows: Callable[[], None] = lambda: None
    # Whether the step's last run for the site finished, with this code, loading a dump
    # (lakehouse.step_runs): only then do its tables hold what that load recorded.
    last_run_loaded: Callable[[str], bool] = lambda dump_id: False
    # Whether the step's last run died part way: its tables may hold rows of a dump that
    # no record names, even where this dump's load is recorded.
    last_run_died: bool = False


@dataclass(frozen=True)
class BronzeLoad:
    """What one file's load did: rows in the file, loaded and rejected."""

    table: str
    site: str
    dump_id: str
    rows_in_file: int
    rows_loaded: int
    rows_rejected: int


def parse_dump_file(spark: SparkSession, uri: str, table: DumpTable) -> DataFrame:
    """The file's lines parsed into typed columns, one output row per non-blank line."""
    return map_lines(spark, uri, partial(parse_lines, table=table), arrow_schema(table))


def read_manifest(lake: Lake, site: str, dump_id: str) -> dict[str, Any]:
    """The dump's ingest manifest, or BadDumpFile naming where it should be."""
    uri = lake.raw_uri(site, dump_id, MANIFEST)
    try:
        first = lake.spark.read.text(uri, wholetext=True).first()
    except Exception:  # Spark raises its own AnalysisException for a missing path.
        first = None
    if first is None:
        raise BadDumpFile(
            f"{uri}: no ingest manifest; ingest the dump first (`make ingest`), or point "
            "LAKE_RAW_ROOT (job parameter `raw_root`) at where it is"
        )
    manifest: dict[str, Any] = json.loads(first[0])
    return manifest


def _rejected(lines: DataFrame, table: DumpTable) -> DataFrame:
    rejected = lines.select(
        *LINEAGE,
        F.lit(table.name).alias("table_name"),
        F.col("_raw_line").alias("raw_line"),
        F.col("_reject_reason").alias("reason"),
    )
    hashed = with_row_hash(rejected, ["raw_line", "reason"])
    # Identical lines (extra copies of one row) share that hash: each copy after the first
    # folds in its number, so that the table's key (site, table_name, hash) stays unique.
    copy = F.row_number().over(Window.partitionBy(ROW_HASH).orderBy(ROW_HASH))
    unique_hash = F.when(copy == 1, F.col(ROW_HASH)).otherwise(F.xxhash64(ROW_HASH, copy))
    return hashed.withColumn(ROW_HASH, unique_hash)


def _first_copies(
    rows: DataFrame, duplicated_ids: dict[int, int] | None
) -> tuple[DataFrame, DataFrame | None]:
    """One row per Id (of several copies, the one with the lowest hash), and the others.
    Only the listed Ids are ranked; with None (too many to list) every row is."""
    if duplicated_ids == {}:
        return rows, None
    if duplicated_ids is None:
        candidates, single = rows, None
    else:
        listed = [(i,) for i in duplicated_ids]
        ids = F.broadcast(rows.sparkSession.createDataFrame(listed, "id bigint"))
        candidates, single = rows.join(ids, "id", "left_semi"), rows.join(ids, "id", "left_anti")
    first = Window.partitionBy("site", "id").orderBy(ROW_HASH)
    ranked = candidates.withColumn("_copy", F.row_number().over(first))
    unique = ranked.where(F.col("_copy") == 1).drop("_copy")
    if single is not None:
        unique = single.unionByName(unique)
    return unique, ranked.where(F.col("_copy") > 1).drop("_copy")


def _rejected_lines(
    lines: DataFrame, extra_copies: DataFrame | None, table: DumpTable, file_name: str
) -> DataFrame:
    """Malformed lines, rows without an Id and extra copies, each with its reason."""
    content = table.columns + ["_rescued_data"]
    as_json = F.to_json(F.struct(*[f"`{c}`" for c in content]))
    no_id = (
        lines.where((F.col("_line_kind") == ROW) & F.col("id").isNull())
        .withColumn(
            "_reject_reason",
            F.concat(
                F.lit(f"{file_name}: row has no valid Id"),
                F.coalesce(F.concat(F.lit(": "), F.to_json("_rescued_data")), F.lit("")),
            ),
        )
        .withColumn("_raw_line", as_json)
    )
    bad = lines.where(F.col("_line_kind") == REJECTED).withColumn(
        "_reject_reason", F.concat(F.lit(f"{file_name}: "), F.col("_reject_reason"))
    )
    rejected = bad.unionByName(no_id)
    if extra_copies is not None:
        copies = extra_copies.withColumn(
            "_reject_reason", F.format_string(f"{file_name}: duplicate Id %d", F.col("id"))
        ).withColumn("_raw_line", as_json)
        rejected = rejected.unionByName(copies)
    return _rejected(rejected, table)


def _stats_columns(table: DumpTable) -> list[str]:
    """Columns whose min and max Delta keeps per file: what follows the order of a dump's
    rows, Id and the dates, so a file's range is narrow and queries skip files by it
    (the site is the table's partition). Not the other numbers (score, user ids), whose
    every file spans nearly the whole range, nor the long texts; each column kept costs
    the write time."""
    dates = [a.column for a in table.attributes if a.type == TIMESTAMP]
    return ["id", *dates, "ingested_at"]


def load_dump_files(
    dump: DumpToLoad, file_names: list[str], skip_absent: bool = False
) -> list[BronzeLoad]:
    """Parse, check and load raw files of one dump into their bronze tables.

    The site's rows of each table become the file's rows, and bronze.row_lineage says which
    were added, changed and deleted. A dump older than the one a table holds is refused
    (OlderDump) before any table is written. The history tables take at most one write
    each per call.
    With `skip_absent`, files the dump lacks (ingest named them) are skipped. A file
    whose table already holds this dump is not read again: its load is recorded only
    once the table and its lineage are written, and the dump_id names the archive's
    content, so there is nothing left to do. Unless the step's last run died, perhaps
    after writing a later dump's rows: then the file is read and synced again, and not
    recorded twice. Nor is a file byte for byte the one its table's current load read
    (EarlierFiles), when the step's last run finished that load with this code: its
    load is recorded, the table and its lineage left as they are.
    """
    lake, site, dump_id = dump.lake, dump.site, dump.dump_id
    manifest = read_manifest(lake, site, dump_id)
    if skip_absent:
        file_names = [name for name in file_names if name in manifest["rows"]]
    release = release_of(manifest)
    recorded, with_rejected_rows = _what_bronze_holds(lake, site)
    tables = [table_for_file(name) for name in file_names]
    for table in tables:
        check_order(recorded.get(table.name, []), site, table.name, release)
    earlier_files = EarlierFiles(lake, site)

    def loaded_as(earlier: Row, name: str) -> BronzeLoad:
        """This dump's load of a file whose rows `earlier` (of bronze.dump_loads) loaded."""
        rows_in_file, table_name = manifest["rows"][name], table_for_file(name).name
        return BronzeLoad(
            table_name, site, dump_id, rows_in_file, earlier.rows_loaded, earlier.rows_rejected
        )

    results: list[BronzeLoad] = []
    new: list[BronzeLoad] = []  # The loads to record: every file not already recorded.
    # Per table whose file is read, the dump its recorded rows came from (None: unknown).
    replaced: dict[str, str | None] = {}
    all_rows_new, lineage_held = True, False
    for name, table in zip(file_names, tables, strict=True):
        loads = recorded.get(table.name, [])
        done = next((d for d in loads if d.dump_id == dump_id), None)
        if done is not None and not dump.last_run_died:
            results.append(loaded_as(done, name))
            continue
        current = current_load(loads)
        # Only a load the step's last run finished, with this code, left exactly its rows.
        trusted = current if current is not None and dump.last_run_loaded(current.dump_id) else None
        if trusted is not None and earlier_files.same_file(manifest, name, trusted):
            print(f"{name} of {site}: byte for byte that of dump {trusted.dump_id}; not read")
            load = loaded_as(trusted, name)  # Its rows, and their lineage, stand as they are.
        else:
            has_rejected_rows = table.name in with_rejected_rows
            stored_rows = None if trusted is None else trusted.rows_loaded > 0
            load, held_none = _load_file(dump, manifest, name, has_rejected_rows, stored_rows)
            # A table synced again to its recorded dump held the rows of the run that died.
            replaced[table.name] = None if current is None or done is not None else current.dump_id
            # Lineage follows the table's rows, so a table that held none of the site's
            # rows and has no load recorded has no lineage either (a refresh can empty a
            # table, but leaves the lineage of its deleted rows).
            all_rows_new = all_rows_new and held_none and table.name not in recorded
            lineage_held = lineage_held or (trusted is not None and trusted.rows_loaded > 0)
        results.append(load)
        if done is None:
            new.append(load)
    if new or replaced:
        dump.before_writing()  # Where every file was skipped, these are the first writes.
        if replaced:
            held = False if all_rows_new else (lineage_held or None)
            record_lineage(lake, site, replaced, dump_id, held)
        if new:
            record_loads(lake, site, release, new, dump.ingested_at)
    return results


class EarlierFiles:
    """The files of a site's earlier dumps, by their manifests (read once each): a file
    byte for byte the one a table's current load read needs no reading, for the table
    already holds its rows. A quiet quarter changes few of a site's files."""

    def __init__(self, lake: Lake, site: str) -> None:
        self.lake, self.site = lake, site
        self._sha1: dict[str, dict[str, str]] = {}

    def _sha1_of(self, dump_id: str) -> dict[str, str]:
        if dump_id not in self._sha1:
            try:
                self._sha1[dump_id] = read_manifest(self.lake, self.site, dump_id)["sha1"]
            except BadDumpFile:  # That dump's raw files were removed since.
                self._sha1[dump_id] = {}
        return self._sha1[dump_id]

    def same_file(self, manifest: dict[str, Any], file_name: str, current: Row) -> bool:
        """Whether this dump's `file_name` is the file that `current` (the table's current
        load, of bronze.dump_loads) read: the same sha1 and the same row lines."""
        sha1 = manifest["sha1"].get(file_name)
        rows_in_file = manifest["rows"][file_name]
        return (
            sha1 is not None
            and sha1 == self._sha1_of(current.dump_id).get(file_name)
            and rows_in_file == current.rows_loaded + current.rows_rejected
        )


def _what_bronze_holds(lake: Lake, site: str) -> tuple[dict[str, list[Row]], set[str]]:
    """Per bronze table, the dumps of `site` it has taken in (bronze.dump_loads), and the
    tables of which bronze.rejected_rows holds lines of `site`: one Spark job for both."""
    looks = []
    loads = site_loads(lake, site)
    if loads is not None:
        looks.append(loads.withColumn("rejected_lines", F.lit(False)))
    if lake.exists(REJECTED_ROWS):
        rejected = lake.read(REJECTED_ROWS).where(F.col("site") == site)
        looks.append(
            rejected.select("table_name").distinct().withColumn("rejected_lines", F.lit(True))
        )
    if not looks:
        return {}, set()
    rows = reduce(partial(DataFrame.unionByName, allowMissingColumns=True), looks).collect()
    recorded = loads_by_table(row for row in rows if not row.rejected_lines)
    return recorded, {row.table_name for row in rows if row.rejected_lines}


def _ids_in_file(lake: Lake, manifest: dict[str, Any], file_name: str) -> DataFrame:
    """The (site, id) of each row the file loads, each once: what a refresh compares with
    the stored rows before it replaces them, without the parse. Ingest lists them beside
    the file where it was certain of them (lakehouse.raw_layout.ROW_IDS; the Id of a row
    line bronze rejects too, which can only hide that line's deletion from the guard);
    else a census reads them."""
    site, dump_id = manifest["site"], manifest["dump_id"]
    listed = manifest.get(ROW_IDS, {}).get(file_name)
    if listed is not None:
        ids = lake.spark.read.schema("id bigint").parquet(lake.raw_uri(site, dump_id, listed))
    else:
        uri, table = lake.raw_uri(site, dump_id, file_name), table_for_file(file_name)
        lines = census_of_dump_file(lake.spark, uri, table)
        rows = lines.where((F.col("_line_kind") == ROW) & F.col("id").isNotNull())
        ids = rows.select("id").distinct()
    return ids.select(F.lit(site).alias("site"), "id")


def _load_file(
    dump: DumpToLoad,
    manifest: dict[str, Any],
    file_name: str,
    has_rejected_rows: bool,
    stored_rows: bool | None,
) -> tuple[BronzeLoad, bool]:
    """The file's load, and whether its table held none of the site's rows before.
    `has_rejected_rows`: whether bronze.rejected_rows holds lines of its table;
    `stored_rows`: whether the table holds rows of the site (None: look)."""
    lake, site, dump_id = dump.lake, dump.site, dump.dump_id
    spark = lake.spark
    table = table_for_file(file_name)
    uri = lake.raw_uri(site, dump_id, file_name)
    if file_name not in manifest["rows"]:
        raise BadDumpFile(f"{uri}: not in this dump (missing: {', '.join(manifest['missing'])})")

    lines = parse_dump_file(spark, uri, table).select(
        F.lit(site).alias("site"),
        "*",
        F.lit(dump_id).alias("dump_id"),
        F.lit(uri).alias("source_file"),
        F.lit(dump.ingested_at).cast("timestamp").alias("ingested_at"),
    )
    # The hash is computed while parsing; the lineage finds changed rows by it.
    lines = with_row_hash(lines, table.columns + ["_rescued_data"])
    rows_in_file = manifest["rows"][file_name]
    duplicated_ids = known_duplicates(manifest, file_name)
    if duplicated_ids is None:
        census = take_census(spark, uri, table, rows_in_file)
        duplicated_ids, rows_expected = census.duplicated_ids, census.rows_loaded
    else:
        check_size(spark, uri, manifest["bytes"][file_name])
        lines, rows_expected = refuse_forbidden(lines, uri), None

    rows = lines.where((F.col("_line_kind") == ROW) & F.col("id").isNotNull())
    unique, extra_copies = _first_copies(rows, duplicated_ids)
    bronze_name = bronze(table.name)
    bronze_columns = ["site", *table.columns, "_rescued_data", *LINEAGE[1:], ROW_HASH]
    into = Slice(
        bronze_name,
        ["site", "id"],
        {"site": site},
        not_null=("site", "id"),
        properties=skipping_stats(_stats_columns(table)),
        expected_rows=rows_expected,
        stored_rows=stored_rows,
    )
    dump.before_rewriting_rows()
    with refusals_named(uri):
        source = unique.select(*[f"`{c}`" for c in bronze_columns])
        synced = sync(lake, source, into, partial(_ids_in_file, lake, manifest, file_name))
    rows_loaded = synced.rows
    rows_rejected = rows_in_file - rows_loaded
    if rows_rejected < 0:
        raise BadDumpFile(
            f"{uri}: {bronze_name} holds {rows_loaded} rows of site {site}, more than the "
            f"{rows_in_file} row lines the manifest counted"
        )
    rejected = _rejected_lines(lines, extra_copies, table, file_name)
    # With nothing rejected, `limit(0)` still creates the table but reads no line again.
    rejected_slice = Slice(
        REJECTED_ROWS,
        ["site", "table_name", ROW_HASH],
        {"site": site, "table_name": table.name},
        expected_rows=rows_rejected,
        stored_rows=has_rejected_rows,
    )
    sync(lake, rejected if rows_rejected else rejected.limit(0), rejected_slice)
    load = BronzeLoad(table.name, site, dump_id, rows_in_file, rows_loaded, rows_rejected)
    return load, synced.first_rows
