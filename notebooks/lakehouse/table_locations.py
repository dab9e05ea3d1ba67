"""Where a logical table name (`bronze.posts`) lives, in one of two ways, chosen once from
the settings (lakehouse.target):

- `DeltaPaths`: a Delta path in a bucket, `s3a://<bucket>/<layer>/<table>` (locally);
- `CatalogTables`: a Unity Catalog table, `<catalog>.<layer>.<table>` (on Databricks).

Delta is reached through SQL and the DataFrame API only, never the DeltaTable API or the
JVM: Spark Connect, and so Databricks serverless, offers nothing else.
"""

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, DataFrameReader, DataFrameWriter, SparkSession


LAYERS = ("bronze", "silver", "gold")
# `gold.x`, but not the end of `catalog.gold.x` or a quoted name.
LOGICAL_NAME = re.compile(rf"(?<![\w.`])(?:{'|'.join(LAYERS)})\.[A-Za-z_][A-Za-z0-9_]*\b(?!\.)")


def split_name(name: str) -> tuple[str, str]:
    """`bronze.posts` as ("bronze", "posts"), or ValueError for anything else."""
    layer, _, table = name.partition(".")
    if layer not in LAYERS or not table.isidentifier():
        raise ValueError(f"{name!r} is not a logical table name like bronze.posts")
    return layer, table


def table_path(bucket: str, name: str, scheme: str = "s3a") -> str:
    """A table's Delta path in the lake's bucket: the one place that layout is built."""
    layer, table = split_name(name)
    return f"{scheme}://{bucket}/{layer}/{table}"


class LakeNotReady(LookupError):
    """A catalog, schema or raw location the settings name does not exist."""


@dataclass(frozen=True)
class DeltaPaths:
    """Tables as Delta paths in `bucket`."""

    bucket: str

    def location(self, name: str) -> str:
        """Where the table is, for messages and path-based readers."""
        return table_path(self.bucket, name)

    def sql_name(self, name: str) -> str:
        """The identifier Spark SQL knows the table by."""
        return f"delta.`{self.location(name)}`"

    def exists(self, spark: "SparkSession", name: str) -> bool:
        """Whether the table exists."""
        from pyspark.errors import AnalysisException

        # Resolving the schema reads only the log's newest metadata; DESCRIBE DETAIL would
        # rebuild the whole snapshot, a Spark job after every commit (25x slower).
        try:
            spark.read.format("delta").load(self.location(name)).schema  # noqa: B018
        except AnalysisException:  # No such path, or a path that is not a Delta table.
            return False
        return True

    def read(self, reader: "DataFrameReader", name: str) -> "DataFrame":
        """The table, through `reader` (which may carry a version)."""
        return reader.format("delta").load(self.location(name))

    def save(self, writer: "DataFrameWriter", name: str) -> None:
        """Write with `writer` to the table."""
        writer.save(self.location(name))

    def check_ready(self, spark: "SparkSession") -> None:
        """Nothing to check: a path exists once its first write creates it."""

    def sql(self, spark: "SparkSession", query: str) -> "DataFrame":
        """`query` with each logical name of an existing table as its Delta path. Not a
        name in the session catalog: on a shared Spark Connect server every client sees
        that catalog, and one registered for another bucket would be read instead."""
        names = {
            name: self.sql_name(name) if self.exists(spark, name) else name
            for name in set(LOGICAL_NAME.findall(query))
        }
        return spark.sql(LOGICAL_NAME.sub(lambda match: names[match.group(0)], query))


@dataclass(frozen=True)
class CatalogTables:
    """Tables in the Unity Catalog `catalog`, one schema per layer."""

    catalog: str

    def location(self, name: str) -> str:
        """Where the table is, for messages and path-based readers."""
        layer, table = split_name(name)
        return f"{self.catalog}.{layer}.{table}"

    def sql_name(self, name: str) -> str:
        """The identifier Spark SQL knows the table by."""
        layer, table = split_name(name)
        return f"`{self.catalog}`.`{layer}`.`{table}`"

    def exists(self, spark: "SparkSession", name: str) -> bool:
        """Whether the table exists."""
        return spark.catalog.tableExists(self.sql_name(name))

    def read(self, reader: "DataFrameReader", name: str) -> "DataFrame":
        """The table, through `reader` (which may carry a version)."""
        return reader.table(self.sql_name(name))

    def save(self, writer: "DataFrameWriter", name: str) -> None:
        """Write with `writer` to the table."""
        writer.saveAsTable(self.sql_name(name))

    def check_ready(self, spark: "SparkSession") -> None:
        """Fail before any work when the catalog or one of its schemas is missing."""
        catalog = self.catalog
        catalogs = {row[0] for row in spark.sql("SHOW CATALOGS").collect()}
        if catalog not in catalogs:
            raise LakeNotReady(
                f"catalog {catalog!r} (setting LAKE_CATALOG, job parameter `catalog`) "
                "does not exist or is not visible to this user"
            )
        missing = [
            layer for layer in LAYERS if not spark.catalog.databaseExists(f"{catalog}.{layer}")
        ]
        if missing:
            raise LakeNotReady(
                f"catalog {catalog!r} (setting LAKE_CATALOG) lacks the schemas "
                f"{', '.join(missing)}; create them with CREATE SCHEMA IF NOT EXISTS "
                f"{catalog}.<schema> (docs/databricks.md)"
            )

    def sql(self, spark: "SparkSession", query: str) -> "DataFrame":
        """`query` as it is: two-part names resolve in the current catalog, as in Unity
        Catalog."""
        spark.catalog.setCurrentCatalog(self.catalog)
        return spark.sql(query)


def check_raw_volume(spark: "SparkSession", raw_root: str) -> None:
    """Fail before any work when `raw_root`, a Volume path, lies in a Volume that does not
    exist (SHOW VOLUMES: https://docs.databricks.com/sql/language-manual/sql-ref-syntax-aux-show-volumes.html)."""
    catalog, schema, volume = raw_root.split("/")[2:5]
    listed = spark.sql(f"SHOW VOLUMES IN `{catalog}`.`{schema}` LIKE '{volume}'").collect()
    # LIKE is a pattern, and matches case-insensitively: the name itself must be listed.
    if volume not in {row["volume_name"] for row in listed}:
        raise LakeNotReady(
            f"raw_root {raw_root!r} (setting LAKE_RAW_ROOT, job parameter `raw_root`) lies in "
            f"the Volume {catalog}.{schema}.{volume}, which does not exist or is not visible "
            f"to this user; create it with CREATE VOLUME {catalog}.{schema}.{volume}"
        )
