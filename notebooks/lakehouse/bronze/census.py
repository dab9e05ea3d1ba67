"""Count a raw dump file's lines by kind, and find duplicated Ids, before any write.

Every line goes through `census_lines`, the parse's own rules without the values, so the
census always says what the parse will. (Settling plain rows with a regular expression
in the JVM instead was measured 7x slower than this: BENCHMARKS.md.)
"""

from dataclasses import dataclass
from functools import partial

from pyspark.sql import DataFrame
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
from lakehouse.schemas import DumpTable

NO_ID = "row_without_id"


class BadDumpFile(ValueError):
    """A raw dump file that cannot be loaded as it is; the message names the file."""

    pass


def census_of_dump_file(spark, uri: str, table: DumpTable) -> DataFrame:
    """The kind and Id of each of the file's non-blank lines, as the parse reads them."""
    return map_lines(spark, uri, partial(census_lines, table=table), CENSUS_SCHEMA)


@dataclass(frozen=True)
class Census:
    """A file's lines counted by kind, and the Ids that appear on more than one row."""

    counts: dict[str, int]
    duplicated_ids: dict[int, int]  # Id -> number of rows carrying it

    @property
    def extra_copies(self) -> int:
        """Rows beyond the first for each duplicated Id."""
        return sum(self.duplicated_ids.values()) - len(self.duplicated_ids)

    @property
    def rows_rejected(self) -> int:
        """Lines the load rejects: malformed, without an Id, or extra copies."""
        return self.counts.get(REJECTED, 0) + self.counts.get(NO_ID, 0) + self.extra_copies

    @property
    def rows_loaded(self) -> int:
        """Rows the bronze table gets: one per Id."""
        return self.counts.get(ROW, 0) - self.extra_copies


def take_census(spark, uri: str, table: DumpTable, expected_rows: int) -> Census:
    """Count the file's lines in one pass, or raise BadDumpFile naming what is wrong."""
    lines = census_of_dump_file(spark, uri, table)
    kind = (
        F.when(F.col("_line_kind").eqNullSafe(ROW) & F.col("id").isNull(), NO_ID)
        .otherwise(F.col("_line_kind"))
        .alias("kind")
    )
    per_id = lines.groupBy(kind, "id").count()
    duplicated = F.when((F.col("count") > 1) & (F.col("kind") == ROW), F.col("id"))
    tally = per_id.groupBy("kind", duplicated.alias("duplicated_id")).agg(F.sum("count"))
    counts, duplicated_ids = {}, {}
    for kind_name, duplicated_id, rows in tally.collect():
        counts[kind_name] = counts.get(kind_name, 0) + rows
        if duplicated_id is not None:
            duplicated_ids[duplicated_id] = rows

    if counts.get(FORBIDDEN):
        raise BadDumpFile(f"{uri}: holds a DOCTYPE or ENTITY declaration; refusing the file")
    if counts.get(ROOT_CLOSE, 0) != 1:
        raise BadDumpFile(f"{uri}: truncated; no closing </{table.root}> tag")
    seen = counts.get(ROW, 0) + counts.get(NO_ID, 0) + counts.get(REJECTED, 0)
    if seen != expected_rows:
        raise BadDumpFile(f"{uri}: read {seen} row lines, but the manifest counted {expected_rows}")
    return Census(counts, duplicated_ids)
