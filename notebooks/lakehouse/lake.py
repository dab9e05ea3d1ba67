"""Logical table names (`bronze.posts`) and Delta reads and writes behind them.

Locally a name resolves to the Delta path `s3a://<bucket>/<layer>/<table>`; with a
catalog set (on Databricks) to the Unity Catalog table `<catalog>.<layer>.<table>`.
Transforms never see the difference.
"""

import re
from dataclasses import dataclass

from lakehouse.raw_layout import dump_folder
from lakehouse.settings import LakeSettings
from lakehouse.write_conflicts import retry_on_conflict

LAYERS = ("bronze", "silver", "gold")


def split_name(name: str) -> tuple[str, str]:
    layer, _, table = name.partition(".")
    if layer not in LAYERS or not table.isidentifier():
        raise ValueError(f"{name!r} is not a logical table name like bronze.posts")
    return layer, table


class LakeNotReady(LookupError):
    """A catalog, schema or raw location the settings name does not exist."""


@dataclass
class Lake:
    spark: object
    settings: LakeSettings

    @property
    def in_catalog(self) -> bool:
        return bool(self.settings.catalog)

    def location(self, name: str) -> str:
        """Where the table is, for messages and path-based readers."""
        layer, table = split_name(name)
        if self.in_catalog:
            return f"{self.settings.catalog}.{layer}.{table}"
        return f"s3a://{self.settings.bucket}/{layer}/{table}"

    def sql_name(self, name: str) -> str:
        """The identifier Spark SQL knows the table by."""
        layer, table = split_name(name)
        if self.in_catalog:
            return f"`{self.settings.catalog}`.`{layer}`.`{table}`"
        return f"delta.`{self.location(name)}`"

    def raw_uri(self, site: str, dump_id: str, file_name: str) -> str:
        return f"{self.settings.raw_location}/{dump_folder(site, dump_id)}/{file_name}"

    def check_ready(self) -> None:
        """Fail before any work when the catalog or one of its schemas is missing."""
        if not self.in_catalog:
            return
        catalog = self.settings.catalog
        catalogs = {row[0] for row in self.spark.sql("SHOW CATALOGS").collect()}
        if catalog not in catalogs:
            raise LakeNotReady(
                f"catalog {catalog!r} (setting LAKE_CATALOG, job parameter `catalog`) "
                "does not exist or is not visible to this user"
            )
        missing = [
            layer for layer in LAYERS if not self.spark.catalog.databaseExists(f"{catalog}.{layer}")
        ]
        if missing:
            raise LakeNotReady(
                f"catalog {catalog!r} (setting LAKE_CATALOG) lacks the schemas "
                f"{', '.join(missing)}; create them with CREATE SCHEMA IF NOT EXISTS "
                f"{catalog}.<schema> (README: Switch to Databricks)"
            )

    # Delta is reached through SQL only, never the DeltaTable API or the JVM: Spark
    # Connect, and so Databricks serverless, offers nothing else.
    def exists(self, name: str) -> bool:
        from pyspark.errors import AnalysisException

        if self.in_catalog:
            return self.spark.catalog.tableExists(self.sql_name(name))
        # Resolving the schema reads only the log's newest metadata; DESCRIBE DETAIL would
        # rebuild the whole snapshot, a Spark job after every commit (25x slower).
        try:
            self.spark.read.format("delta").load(self.location(name)).schema  # noqa: B018
        except AnalysisException:  # No such path, or a path that is not a Delta table.
            return False
        return True

    def history(self, name: str):
        """The table's commits, newest first (DESCRIBE HISTORY)."""
        return self.spark.sql(f"DESCRIBE HISTORY {self.sql_name(name)}")

    def read(self, name: str, version: int | None = None):
        """The table, or with `version` the table as that commit left it (Delta time
        travel), which no later write changes."""
        if not self.exists(name):
            raise LookupError(f"Table {name} does not exist yet at {self.location(name)}")
        reader = self.spark.read
        if version is not None:
            reader = reader.option("versionAsOf", version)
        if self.in_catalog:
            return reader.table(self.sql_name(name))
        return reader.format("delta").load(self.location(name))

    def current_version(self, name: str) -> int:
        return self.history(name).first()["version"]

    def _save(self, writer, name: str) -> None:
        if self.in_catalog:
            writer.saveAsTable(self.sql_name(name))
        else:
            writer.save(self.location(name))

    def create(
        self,
        df,
        name: str,
        partition_by: list[str] | None = None,
        properties: dict[str, str] | None = None,
    ) -> None:
        """Create the table from `df`, with Delta table `properties` (`delta.*`)."""
        writer = df.write.format("delta").mode("error").options(**(properties or {}))
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        self._save(writer, name)

    def create_empty(
        self,
        name: str,
        schema,
        not_null: tuple[str, ...] = (),
        properties: dict[str, str] | None = None,
    ) -> None:
        """Create the table with `schema`'s columns, unless it exists. Delta refuses a null
        in the `not_null` ones on every later write; a DataFrame write cannot declare
        that, as it makes every column nullable."""
        columns = ", ".join(
            f"`{field.name}` {field.dataType.simpleString()}"
            + (" NOT NULL" if field.name in not_null else "")
            for field in schema.fields
        )
        settings = ", ".join(f"'{k}' = '{quote_sql(v)}'" for k, v in (properties or {}).items())
        self.spark.sql(
            f"CREATE TABLE IF NOT EXISTS {self.sql_name(name)} ({columns}) USING delta"
            + (f" TBLPROPERTIES ({settings})" if settings else "")
        )

    def append(self, df, name: str) -> None:
        """Add `df`'s rows, creating the table if needed."""
        writer = df.write.format("delta").mode("append")
        retry_on_conflict(lambda: self._save(writer, name), f"append {name}")

    def overwrite_slice(
        self, df, name: str, scope: dict[str, str], add_new_columns: bool = False
    ) -> None:
        """Replace the rows in `scope` (column -> value, e.g. one site) atomically, creating
        the table if needed. `add_new_columns` lets a newer release's extra columns into
        an existing table."""
        where = " AND ".join(
            f"`{column}` = '{quote_sql(value)}'" for column, value in scope.items()
        )

        def write() -> None:
            if not self.exists(name):
                self.create(df, name)
                return
            writer = (
                df.write.format("delta")
                .mode("overwrite")
                .option("replaceWhere", where)
                .option("mergeSchema", str(add_new_columns).lower())
            )
            self._save(writer, name)

        retry_on_conflict(write, f"overwrite {name}")

    def vacuum(self, name: str) -> int:
        """Delete the data files no commit references (a killed write leaves some) once
        they are older than Delta's retention (7 days by default); return how many."""
        table = self.sql_name(name)
        unreferenced = self.spark.sql(f"VACUUM {table} DRY RUN").count()
        self.spark.sql(f"VACUUM {table}")
        return unreferenced

    def sql(self, query: str):
        """Run Spark SQL that names tables logically (`SELECT * FROM gold.posts_users`)."""
        if self.in_catalog:
            # Two-part names resolve in the current catalog, as in Unity Catalog.
            self.spark.catalog.setCurrentCatalog(self.settings.catalog)
            return self.spark.sql(query)
        # Each name once: every existence check reads the table's Delta log.
        names = {name: self._path_name(name) for name in set(_LOGICAL_NAME.findall(query))}
        return self.spark.sql(_LOGICAL_NAME.sub(lambda match: names[match.group(0)], query))

    def _path_name(self, name: str) -> str:
        """A logical name as its Delta path, when that table exists. Not a name in the
        session catalog: on a shared Spark Connect server every client sees that catalog,
        and one registered for another bucket would be read instead of this lake's."""
        return self.sql_name(name) if self.exists(name) else name


# `gold.x`, but not the end of `catalog.gold.x` or a quoted name.
_LOGICAL_NAME = re.compile(rf"(?<![\w.`])(?:{'|'.join(LAYERS)})\.[A-Za-z_][A-Za-z0-9_]*\b(?!\.)")


def quote_sql(value: str) -> str:
    """`value` inside a single-quoted SQL string literal."""
    return value.replace("'", "''")
