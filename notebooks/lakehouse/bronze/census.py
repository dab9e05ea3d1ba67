"""What bronze must know of a raw dump file before it writes: its duplicated Ids, and
that it is whole.

Ingest reads every line, so it records both in the manifest (the file's size, and its
duplicated Ids where it is certain of them: lakehouse.raw_layout). Bronze then checks
the size and reads the file once, refusing inside that same read a line ingest would
have refused. Otherwise (a manifest from before, a file placed by hand) bronze takes a
census first: every line through `census_lines`, the parse's own rules without the
values, so the census always says what the parse will. (Settling plain rows with a
regular expression in the JVM instead was measured 7x slower than this: docs/benchmarks-history.md.)
"""

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse.bronze.dump_lines import map_lines
from lakehouse.bronze.xml_rows import (
    CENSUS_SCHEMA,
    FORBIDDEN,
    REJECTED,
    ROOT_CLOSE,
    ROW,
    census_lines,
)
from lakehouse.raw_layout import DUPLICATED_IDS, MAX_LISTED_DUPLICATES
from lakehouse.schemas import DumpTable

NO_ID = "row_without_id"


class BadDumpFile(ValueError):
    """A raw dump file that cannot be loaded as it is; the message names the file."""

    pass


def census_of_dump_file(spark: SparkSession, uri: str, table: DumpTable) -> DataFrame:
    """The kind and Id of each of the file's non-blank lines, as the parse reads them."""
    return map_lines(spark, uri, partial(census_lines, table=table), CENSUS_SCHEMA)


@dataclass(frozen=True)
class Census:
    """A file's lines counted by kind, and the Ids that appear on more than one row."""

    counts: dict[str, int]
    # Id -> number of rows carrying it; None when there are too many to list.
    duplicated_ids: dict[int, int] | None
    extra_copies: int  # rows beyond the first for each duplicated Id

    @property
    def rows_rejected(self) -> int:
        """Lines the load rejects: malformed, without an Id, or extra copies."""
        return self.counts.get(REJECTED, 0) + self.counts.get(NO_ID, 0) + self.extra_copies

    @property
    def rows_loaded(self) -> int:
        """Rows the bronze table gets: one per Id."""
        return self.counts.get(ROW, 0) - self.extra_copies


def take_census(spark: SparkSession, uri: str, table: DumpTable, expected_rows: int) -> Census:
    """Count the file's lines in one pass, or raise BadDumpFile naming what is wrong."""
    lines = census_of_dump_file(spark, uri, table)
    kind = (
        F.when(F.col("_line_kind").eqNullSafe(ROW) & F.col("id").isNull(), NO_ID)
        .otherwise(F.col("_line_kind"))
        .alias("kind")
    )
    per_id = lines.groupBy(kind, "id").count()
    duplicated = (F.col("count") > 1) & (F.col("kind") == ROW)
    listed = F.collect_list(F.when(duplicated, F.struct("id", "count")))
    tally = per_id.groupBy("kind").agg(
        F.sum("count").alias("rows"),
        F.sum(F.when(duplicated, F.col("count") - 1)).alias("extra_copies"),
        F.count_if(duplicated).alias("duplicated"),
        F.slice(listed, 1, MAX_LISTED_DUPLICATES).alias("listed"),
    )
    counts: dict[str, int] = {}
    duplicated_ids: dict[int, int] | None = {}
    extra_copies = 0
    for row in tally.collect():
        counts[row.kind] = row.rows
        extra_copies += row.extra_copies or 0
        if duplicated_ids is not None and row.duplicated > MAX_LISTED_DUPLICATES:
            duplicated_ids = None
        elif duplicated_ids is not None:
            duplicated_ids.update((pair.id, pair["count"]) for pair in row.listed)

    if counts.get(FORBIDDEN):
        raise BadDumpFile(f"{uri}: holds a DOCTYPE or ENTITY declaration; refusing the file")
    if counts.get(ROOT_CLOSE, 0) != 1:
        raise BadDumpFile(f"{uri}: truncated; no closing </{table.root}> tag")
    seen = counts.get(ROW, 0) + counts.get(NO_ID, 0) + counts.get(REJECTED, 0)
    if seen != expected_rows:
        raise BadDumpFile(f"{uri}: read {seen} row lines, but the manifest counted {expected_rows}")
    return Census(counts, duplicated_ids, extra_copies)


def known_duplicates(manifest: dict[str, Any], file_name: str) -> dict[int, int] | None:
    """The file's duplicated Ids as ingest found them, or None when the manifest lacks them
    (or the file's size, which bronze checks before trusting them)."""
    pairs = manifest.get(DUPLICATED_IDS, {}).get(file_name)
    if pairs is None or file_name not in manifest.get("bytes", {}):
        return None
    return {int(row_id): int(copies) for row_id, copies in pairs}


def check_size(spark: SparkSession, uri: str, expected_bytes: int) -> None:
    """Raise BadDumpFile unless the file has the size ingest checked. Reads no content."""
    found = spark.read.format("binaryFile").load(uri).select("length").first()
    size = found[0] if found else None
    if size != expected_bytes:
        raise BadDumpFile(
            f"{uri}: {size} bytes, but ingest checked {expected_bytes}; the file changed "
            "after ingest (ingest the dump again)"
        )


def _forbidden_message(uri: str) -> str:
    return f"{uri}: holds a DOCTYPE or ENTITY declaration; refusing the file"


def refuse_forbidden(lines: DataFrame, uri: str) -> DataFrame:
    """`lines` whose reading fails, so no write commits, on a DOCTYPE or ENTITY line:
    ingest refuses such files, so one here was changed afterwards. The guard sits in
    `_line_kind` itself, which every later filter reads. Run the writes inside
    `refusals_named(uri)`."""
    kind = F.col("_line_kind")
    refusal = F.raise_error(F.lit(_forbidden_message(uri)))
    return lines.withColumn("_line_kind", F.when(kind == FORBIDDEN, refusal).otherwise(kind))


@contextlib.contextmanager
def refusals_named(uri: str) -> Iterator[None]:
    """Turn the failed job of `refuse_forbidden` into BadDumpFile, one line naming the file."""
    try:
        yield
    except PySparkException as error:
        if _forbidden_message(uri) not in str(error):
            raise
        raise BadDumpFile(_forbidden_message(uri)) from None
