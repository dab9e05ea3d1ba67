"""Load one raw dump file into its bronze table.

The file is read as text lines, so Spark splits it across every core; lxml parses the
lines inside `mapInArrow`. The parsed lines are staged first, checked against the
ingest manifest (no truncation, every row accounted for), and only then merged, so a
bad file leaves bronze at its last good version.
"""

import json
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from lakehouse.delta_merge import ROW_HASH, upsert, with_row_hash
from lakehouse.ingest.raw_store import MANIFEST
from lakehouse.lake import Lake
from lakehouse.schemas import DumpTable, table_for_file
from lakehouse.xml_rows import FORBIDDEN, REJECTED, ROOT_CLOSE, ROW, arrow_schema, parse_lines

REJECTED_ROWS = "bronze.rejected_rows"
LINEAGE = ["site", "dump_id", "source_file", "ingested_at"]


class BadDumpFile(ValueError):
    pass


@dataclass(frozen=True)
class BronzeLoad:
    table: str
    site: str
    dump_id: str
    rows_in_file: int
    rows_loaded: int
    rows_rejected: int


def parse_dump_file(spark, uri: str, table: DumpTable) -> DataFrame:
    """The file's lines parsed into typed columns, one output row per non-blank line."""

    def parse(batches):
        for batch in batches:
            yield parse_lines(batch.column(0).to_pylist(), table)

    return spark.read.text(uri).mapInArrow(parse, from_arrow_schema(arrow_schema(table)))


def read_manifest(spark, lake: Lake, site: str, dump_id: str) -> dict:
    uri = lake.raw_uri(site, dump_id, MANIFEST)
    try:
        first = spark.read.text(uri, wholetext=True).first()
    except Exception:  # Spark raises its own AnalysisException for a missing path.
        first = None
    if first is None:
        raise BadDumpFile(
            f"{uri}: no ingest manifest; ingest the dump first (`make ingest`), or point "
            "LAKE_RAW_ROOT (job parameter `raw_root`) at where it is"
        )
    return json.loads(first[0])


def _check_staged(staged: DataFrame, uri: str, table: DumpTable, expected_rows: int) -> dict:
    """Line counts by kind (and rows without an Id), or BadDumpFile naming what is wrong."""
    kinds = staged.groupBy(
        F.when(F.col("_line_kind").eqNullSafe(ROW) & F.col("id").isNull(), "row_without_id")
        .otherwise(F.col("_line_kind"))
        .alias("kind")
    ).count()
    counts = {row["kind"]: row["count"] for row in kinds.collect()}
    if counts.get(FORBIDDEN):
        raise BadDumpFile(f"{uri}: holds a DOCTYPE or ENTITY declaration; refusing the file")
    if counts.get(ROOT_CLOSE, 0) != 1:
        raise BadDumpFile(f"{uri}: truncated; no closing </{table.root}> tag")
    seen = counts.get(ROW, 0) + counts.get("row_without_id", 0) + counts.get(REJECTED, 0)
    if seen != expected_rows:
        raise BadDumpFile(f"{uri}: read {seen} row lines, but the manifest counted {expected_rows}")
    return counts


def _rejected(lines: DataFrame, table: DumpTable) -> DataFrame:
    rejected = lines.select(
        *LINEAGE,
        F.lit(table.name).alias("table_name"),
        F.col("_raw_line").alias("raw_line"),
        F.col("_reject_reason").alias("reason"),
    )
    return with_row_hash(rejected, ["raw_line", "reason"])


def load_dump_file(
    lake: Lake,
    site: str,
    dump_id: str,
    file_name: str,
    ingested_at: datetime,
    manifest: dict | None = None,
) -> BronzeLoad:
    """Parse, check and merge one raw file into `bronze.<table>`; bad rows to rejected_rows.

    Pass the dump's `manifest` when loading several files, to read it once.
    """
    spark = lake.spark
    table = table_for_file(file_name)
    uri = lake.raw_uri(site, dump_id, file_name)
    manifest = manifest or read_manifest(spark, lake, site, dump_id)
    if file_name not in manifest["rows"]:
        raise BadDumpFile(f"{uri}: not in this dump (missing: {', '.join(manifest['missing'])})")

    staging = f"staging.{table.name}"
    parsed = parse_dump_file(spark, uri, table).select(
        F.lit(site).alias("site"),
        "*",
        F.lit(dump_id).alias("dump_id"),
        F.lit(uri).alias("source_file"),
        F.lit(ingested_at).cast("timestamp").alias("ingested_at"),
    )
    # The hash is computed once, while parsing; MERGE uses it to skip unchanged rows.
    parsed = with_row_hash(parsed, table.columns + ["_rescued_data"])
    # Staging is scratch, so a table left by an older release may lack new columns.
    lake.overwrite_site(parsed, staging, site, add_new_columns=True)
    staged = lake.read(staging).where(F.col("site") == site)
    counts = _check_staged(staged, uri, table, manifest["rows"][file_name])

    rows = staged.where(F.col("_line_kind") == ROW)
    # Duplicate Ids are rare: find them from the ids alone, then rank only their rows,
    # rather than shuffling every row (bodies included) through a window.
    duplicated = rows.groupBy("site", "id").count().where("count > 1 AND id IS NOT NULL")
    suspects = rows.where(F.col("id").isNull()).unionByName(
        rows.join(F.broadcast(duplicated.select("site", "id")), ["site", "id"], "left_semi")
    )
    first = Window.partitionBy("site", "id").orderBy(ROW_HASH)
    extra_copies = suspects.withColumn("_copy", F.row_number().over(first)).where(
        F.col("id").isNull() | (F.col("_copy") > 1)
    )
    unique = rows.where(F.col("id").isNotNull()).join(
        F.broadcast(extra_copies.select("site", "id", ROW_HASH)),
        ["site", "id", ROW_HASH],
        "left_anti",
    )
    content = table.columns + ["_rescued_data"]
    duplicates = extra_copies.withColumn(
        "_reject_reason",
        F.when(
            F.col("id").isNull(),
            F.concat(
                F.lit(f"{file_name}: row has no valid Id"),
                F.coalesce(F.concat(F.lit(": "), F.to_json("_rescued_data")), F.lit("")),
            ),
        ).otherwise(F.format_string(f"{file_name}: duplicate Id %d", F.col("id"))),
    ).withColumn("_raw_line", F.to_json(F.struct(*[f"`{c}`" for c in content])))
    bad_lines = staged.where(F.col("_line_kind") == REJECTED).withColumn(
        "_reject_reason", F.concat(F.lit(f"{file_name}: "), F.col("_reject_reason"))
    )
    rejected = _rejected(bad_lines.unionByName(duplicates, allowMissingColumns=True), table)

    bronze_columns = ["site", *table.columns, "_rescued_data", *LINEAGE[1:], ROW_HASH]
    upsert(lake, rejected, REJECTED_ROWS, ["site", "table_name", ROW_HASH])
    upsert(
        lake,
        unique.select(*[f"`{c}`" for c in bronze_columns]),
        f"bronze.{table.name}",
        ["site", "id"],
        constraints={"id_not_null": "id IS NOT NULL", "site_not_null": "site IS NOT NULL"},
    )
    extra_count = extra_copies.count()
    rejected_count = counts.get(REJECTED, 0) + extra_count
    loaded = counts.get(ROW, 0) + counts.get("row_without_id", 0) - extra_count
    lake.delta_table(staging).delete(F.col("site") == site)
    return BronzeLoad(
        table.name, site, dump_id, manifest["rows"][file_name], loaded, rejected_count
    )
