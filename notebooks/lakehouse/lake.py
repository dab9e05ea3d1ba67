"""Logical table names (`bronze.posts`) and Delta reads and writes behind them.

Locally a name resolves to the Delta path `s3a://<bucket>/<layer>/<table>`; with a
catalog set (on Databricks) to the Unity Catalog table `<catalog>.<layer>.<table>`
(lakehouse.target). Transforms never see the difference.
"""

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from lakehouse.raw_layout import dump_folder
from lakehouse.settings import LakeSettings
from lakehouse.table_locations import CatalogTables, DeltaPaths, check_raw_volume
from lakehouse.target import LakeTarget, resolve
from lakehouse.write_conflicts import retry_on_conflict

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, DataFrameWriter, SparkSession
    from pyspark.sql.types import StructType


@dataclass
class Lake:
    """The lake the settings name, through a Spark session: logical names in, Delta out."""

    spark: "SparkSession"
    settings: LakeSettings
    # Tables seen to exist. The pipeline never drops one, and a step asks about the same
    # few tables a dozen times: each ask is a round trip to the server.
    _existing: set[str] = field(default_factory=set, init=False, repr=False, compare=False)

    @cached_property
    def target(self) -> LakeTarget:
        """The settings' target (lakehouse.target)."""
        return resolve(self.settings)

    @property
    def names(self) -> DeltaPaths | CatalogTables:
        """Where logical names live: Delta paths in the bucket, or catalog tables."""
        return self.target.naming

    def location(self, name: str) -> str:
        """Where the table is, for messages and path-based readers."""
        return self.names.location(name)

    def sql_name(self, name: str) -> str:
        """The identifier Spark SQL knows the table by."""
        return self.names.sql_name(name)

    def raw_uri(self, site: str, dump_id: str, file_name: str) -> str:
        """Where a raw file of a dump is, under the configured raw root."""
        return f"{self.target.raw_location}/{dump_folder(site, dump_id)}/{file_name}"

    def check_ready(self) -> None:
        """Fail before any work when the catalog, one of its schemas or the raw root's
        Volume is missing."""
        self.names.check_ready(self.spark)
        if self.settings.raw_root.startswith("/Volumes/"):
            check_raw_volume(self.spark, self.settings.raw_root)

    def exists(self, name: str) -> bool:
        """Whether the table exists (and is Delta)."""
        if name not in self._existing and self.names.exists(self.spark, name):
            self._existing.add(name)
        return name in self._existing

    def history(self, name: str, limit: int | None = None) -> "DataFrame":
        """The table's commits, newest first (DESCRIBE HISTORY), or only the newest `limit`:
        then Delta reads only those commits, not the whole log."""
        newest = f" LIMIT {int(limit)}" if limit is not None else ""
        return self.spark.sql(f"DESCRIBE HISTORY {self.sql_name(name)}{newest}")

    def read(self, name: str, version: int | None = None) -> "DataFrame":
        """The table, or with `version` the table as that commit left it (Delta time
        travel), which no later write changes."""
        if not self.exists(name):
            raise LookupError(f"Table {name} does not exist yet at {self.location(name)}")
        reader = self.spark.read
        if version is not None:
            reader = reader.option("versionAsOf", version)
        return self.names.read(reader, name)

    def current_version(self, name: str) -> int:
        """The table's newest commit number."""
        newest = self.history(name, limit=1).first()
        assert newest is not None  # A Delta table has at least one commit.
        version: int = newest["version"]
        return version

    def _save(self, writer: "DataFrameWriter", name: str) -> None:
        self.names.save(writer, name)

    def create(
        self,
        df: "DataFrame",
        name: str,
        partition_by: list[str] | None = None,
        properties: dict[str, str] | None = None,
    ) -> None:
        """Create the table from `df`, partitioned by the `partition_by` columns, with
        Delta table `properties` (`delta.*`)."""
        writer = df.write.format("delta").mode("error").options(**(properties or {}))
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        self._save(writer, name)

    def create_empty(
        self,
        name: str,
        schema: "StructType",
        not_null: tuple[str, ...] = (),
        properties: dict[str, str] | None = None,
        partition_by: list[str] | None = None,
    ) -> None:
        """Create the table with `schema`'s columns, partitioned by the `partition_by`
        ones, unless it exists. Delta refuses a null in the `not_null` ones on every later
        write; a DataFrame write cannot declare that, as it makes every column nullable."""
        columns = ", ".join(
            f"`{field.name}` {field.dataType.simpleString()}"
            + (" NOT NULL" if field.name in not_null else "")
            for field in schema.fields
        )
        settings = ", ".join(f"'{k}' = '{quote_sql(v)}'" for k, v in (properties or {}).items())
        partitions = ", ".join(f"`{column}`" for column in partition_by or [])
        self.spark.sql(
            f"CREATE TABLE IF NOT EXISTS {self.sql_name(name)} ({columns}) USING delta"
            + (f" PARTITIONED BY ({partitions})" if partitions else "")
            + (f" TBLPROPERTIES ({settings})" if settings else "")
        )

    def append(
        self,
        df: "DataFrame",
        name: str,
        properties: dict[str, str] | None = None,
        merge_schema: bool = False,
        partition_by: list[str] | None = None,
    ) -> None:
        """Add `df`'s rows, creating the table if needed, then with Delta table
        `properties` (`delta.*`) and partitioned `partition_by`; with `merge_schema`,
        columns the table lacks are added."""
        writer = df.write.format("delta").mode("append")
        if merge_schema:
            writer = writer.option("mergeSchema", "true")
        if (properties or partition_by) and not self.exists(name):
            writer = writer.options(**(properties or {}))
            if partition_by:
                writer = writer.partitionBy(*partition_by)
        retry_on_conflict(lambda: self._save(writer, name), f"append {name}")

    def replace_where(self, df: "DataFrame", name: str, condition: str) -> None:
        """Replace the table's rows that meet `condition` (SQL) with `df`'s, in one commit;
        Delta refuses a row of `df` that does not meet it. Its callers retry a conflict
        (lakehouse.write_conflicts), having compared `df` with the rows it replaces."""
        writer = df.write.format("delta").mode("overwrite").option("replaceWhere", condition)
        self._save(writer, name)

    def vacuum(self, name: str) -> int:
        """Delete the data files no commit references (a killed write leaves some) once
        they are older than Delta's retention (7 days by default); return how many."""
        table = self.sql_name(name)
        unreferenced = self.spark.sql(f"VACUUM {table} DRY RUN").count()
        self.spark.sql(f"VACUUM {table}")
        return unreferenced

    def sql(self, query: str) -> "DataFrame":
        """Run Spark SQL that names tables logically (`SELECT * FROM gold.posts_users`)."""
        return self.names.sql(self.spark, query)


def skipping_stats(columns: list[str]) -> dict[str, str]:
    """The Delta table property that keeps per-file min and max only for `columns`."""
    return {"delta.dataSkippingStatsColumns": ",".join(columns)}


def quote_sql(value: str) -> str:
    """`value` inside a single-quoted SQL string literal."""
    return value.replace("'", "''")
