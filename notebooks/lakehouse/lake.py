"""Logical table names (`bronze.posts`) and Delta reads and writes behind them.

Locally a name resolves to `s3a://<bucket>/<layer>/<table>`; on Databricks to
`<catalog>.<layer>.<table>` in Unity Catalog. Transforms never see the difference.
"""

import re
from dataclasses import dataclass

from lakehouse.settings import LakeSettings
from lakehouse.write_conflicts import retry_on_conflict

LAYERS = ("bronze", "silver", "gold", "staging")


def split_name(name: str) -> tuple[str, str]:
    layer, _, table = name.partition(".")
    if layer not in LAYERS or not table.isidentifier():
        raise ValueError(f"{name!r} is not a logical table name like bronze.posts")
    return layer, table


@dataclass
class Lake:
    spark: object
    settings: LakeSettings

    def location(self, name: str) -> str:
        layer, table = split_name(name)
        return f"s3a://{self.settings.bucket}/{layer}/{table}"

    def raw_uri(self, site: str, dump_id: str, file_name: str) -> str:
        return f"{self.settings.raw_root}/{site}/{dump_id}/{file_name}"

    def delta_table(self, name: str):
        from delta.tables import DeltaTable

        return DeltaTable.forPath(self.spark, self.location(name))

    def exists(self, name: str) -> bool:
        from delta.tables import DeltaTable

        return DeltaTable.isDeltaTable(self.spark, self.location(name))

    def read(self, name: str):
        if not self.exists(name):
            raise LookupError(f"Table {name} does not exist yet at {self.location(name)}")
        return self.spark.read.format("delta").load(self.location(name))

    def create(self, df, name: str, partition_by: list[str] | None = None) -> None:
        writer = df.write.format("delta").mode("errorifexists")
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        writer.save(self.location(name))

    def sql_name(self, name: str) -> str:
        return f"delta.`{self.location(name)}`"

    def overwrite_site(self, df, name: str, site: str, add_new_columns: bool = False) -> None:
        """Replace one site's rows atomically, creating the table if needed.
        `add_new_columns` lets a newer release's extra columns into an existing table."""

        def write() -> None:
            if not self.exists(name):
                self.create(df, name)
                return
            (
                df.write.format("delta")
                .mode("overwrite")
                .option("replaceWhere", f"site = '{_quote(site)}'")
                .option("mergeSchema", str(add_new_columns).lower())
                .save(self.location(name))
            )

        retry_on_conflict(write, f"overwrite {name}")

    def add_constraints(self, name: str, constraints: dict[str, str]) -> None:
        existing = {
            key.removeprefix("delta.constraints.")
            for key in self.delta_table(name).detail().first()["properties"]
            if key.startswith("delta.constraints.")
        }
        for constraint, expression in constraints.items():
            if constraint.lower() not in existing:
                table = self.sql_name(name)
                self.spark.sql(
                    f"ALTER TABLE {table} ADD CONSTRAINT {constraint} CHECK ({expression})"
                )

    def sql(self, query: str):
        """Run Spark SQL that names tables logically (`SELECT * FROM gold.posts_users`)."""
        self.register(sorted(set(_LOGICAL_NAME.findall(query))))
        return self.spark.sql(query)

    def register(self, names: list[str]) -> None:
        """Make logical names queryable in SQL; each costs a Delta log read, so only
        the tables a query names are registered."""
        for name in names:
            if not self.exists(name):
                continue
            layer, _ = split_name(name)
            self.spark.sql(f"CREATE SCHEMA IF NOT EXISTS {layer}")
            self.spark.sql(
                f"CREATE TABLE IF NOT EXISTS {name} USING DELTA LOCATION '{self.location(name)}'"
            )


_LOGICAL_NAME = re.compile(rf"\b((?:{'|'.join(LAYERS)})\.[A-Za-z_][A-Za-z0-9_]*)\b")


def _quote(value: str) -> str:
    return value.replace("'", "''")
