"""Where the notebooks run, decided in this module alone: the target's name, how it is
chosen, whether a notebook runs on Databricks, and what the target resolves to (where its
tables live, where raw dumps are read, its Spark session, and how each client reaches the
lake's S3: S3A, delta-rs and boto3 settings from one description)."""

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from lakehouse.raw_layout import RAW_PREFIX
from lakehouse.table_locations import CatalogTables, DeltaPaths

if TYPE_CHECKING:
    from collections.abc import Callable

    from pyspark.sql import SparkSession

    from lakehouse.settings import LakeSettings

Target = Literal["local", "databricks"]
TARGETS: tuple[str, ...] = get_args(Target)
# The Airflow Variable that, when set, is the target of every run whose param is empty
# (from the environment: AIRFLOW_VAR_LAKEHOUSE_TARGET).
TARGET_VARIABLE = "lakehouse_target"
# The entry-point group through which the environment off Databricks offers its Spark.
LOCAL_SPARK = "lakehouse.local_spark"


def default_target() -> Target:
    """`databricks` on a Databricks runtime, else `local`."""
    # Every Databricks runtime, classic or serverless, sets this variable.
    return "databricks" if os.environ.get("DATABRICKS_RUNTIME_VERSION") else "local"


def chosen_target(param: str | None, variable: str | None) -> Target:
    """An Airflow run's target: its `target` param, else the Variable, else the default
    (local, off Databricks)."""
    target = param or variable or default_target()
    if target not in TARGETS:
        raise ValueError(
            f"Variable {TARGET_VARIABLE}={target!r} is not a target; use one of {TARGETS}"
        )
    return target  # type: ignore[return-value]  # checked against TARGETS just above


def notebook_globals() -> dict[str, Any]:
    """The notebook's namespace, where Databricks defines `spark` and `dbutils`."""
    try:
        from IPython import get_ipython
    except ImportError:
        return {}
    shell = get_ipython()
    return shell.user_ns if shell is not None else {}


def databricks_utilities() -> Any:  # Databricks' dbutils: no types
    """The Databricks notebook's `dbutils` (widgets, exit value), or None elsewhere: how a
    notebook knows it runs on Databricks."""
    return notebook_globals().get("dbutils")


@dataclass(frozen=True)
class S3Access:
    """How a client reaches the lake's S3 server (locally, the emulator): one description,
    given to each client in its own words."""

    endpoint: str
    access_key: str
    secret_key: str = field(repr=False)
    region: str = ""

    @property
    def uses_tls(self) -> bool:
        """Whether the endpoint is https."""
        return self.endpoint.startswith("https")

    def s3a(self) -> dict[str, str]:
        """Spark's Hadoop S3A settings: path style, and failing fast when the server is
        down instead of retrying for minutes."""
        return {
            "spark.hadoop.fs.s3a.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
            "spark.hadoop.fs.s3a.endpoint": self.endpoint,
            "spark.hadoop.fs.s3a.endpoint.region": self.region,
            "spark.hadoop.fs.s3a.path.style.access": "true",
            "spark.hadoop.fs.s3a.connection.ssl.enabled": str(self.uses_tls).lower(),
            "spark.hadoop.fs.s3a.aws.credentials.provider": (
                "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
            ),
            "spark.hadoop.fs.s3a.access.key": self.access_key,
            "spark.hadoop.fs.s3a.secret.key": self.secret_key,
            "spark.hadoop.fs.s3a.attempts.maximum": "3",
            "spark.hadoop.fs.s3a.retry.limit": "3",
            "spark.hadoop.fs.s3a.connection.establish.timeout": "5s",
        }

    def delta_rs(self) -> dict[str, str]:
        """delta-rs storage options: path style, plain HTTP allowed unless https."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_ALLOW_HTTP": str(not self.uses_tls).lower(),
            "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "false",
        }

    def airflow_connection(self) -> dict[str, object]:
        """An Airflow `aws` connection to this server (its AWS hook's fields)."""
        return {
            "conn_type": "aws",
            "login": self.access_key,
            "password": self.secret_key,
            "extra": {"endpoint_url": self.endpoint, "region_name": self.region},
        }

    def boto3(self) -> dict[str, str]:
        """boto3.client's arguments, besides its Config (path style is set there)."""
        return {
            "endpoint_url": self.endpoint,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "region_name": self.region,
        }


@dataclass(frozen=True)
class LakeTarget:
    """A target resolved from the settings: everything that differs between a laptop and
    Databricks, so nothing else asks which it is."""

    settings: "LakeSettings" = field(repr=False)

    @property
    def name(self) -> Target:
        """`local` or `databricks`."""
        return self.settings.target

    @property
    def naming(self) -> DeltaPaths | CatalogTables:
        """A catalog's tables when one is set, else Delta paths in the bucket."""
        settings = self.settings
        return CatalogTables(settings.catalog) if settings.catalog else DeltaPaths(settings.bucket)

    @property
    def raw_location(self) -> str:
        """Where raw dumps are read: `raw_root`, else `<bucket>/raw`."""
        return self.settings.raw_root or f"s3a://{self.settings.bucket}/{RAW_PREFIX}"

    @property
    def s3(self) -> S3Access:
        """How every client reaches the lake's S3."""
        settings = self.settings
        return S3Access(
            endpoint=settings.s3_endpoint,
            access_key=settings.aws_access_key_id,
            secret_key=settings.aws_secret_access_key.get_secret_value(),
            region=settings.aws_region,
        )

    def spark_session(self) -> "SparkSession":
        """The runtime's Spark on Databricks, else the one the environment off Databricks
        builds (local_spark_factory)."""
        from pyspark.sql import SparkSession

        runtime_spark = notebook_globals().get("spark") or SparkSession.getActiveSession()
        if runtime_spark is not None:
            return runtime_spark
        if self.name == "databricks":
            raise RuntimeError(
                "LAKE_TARGET is databricks but this notebook has no `spark` from the "
                "Databricks runtime; run it on a Databricks cluster or serverless, or set "
                "LAKE_TARGET=local"
            )
        return local_spark_factory()(self.settings)


def local_spark_factory() -> "Callable[[LakeSettings], SparkSession]":
    """The session factory the environment off Databricks registers (an entry point, in
    pyproject.toml): a client of LAKE_SPARK_REMOTE, or an in-process Spark. This package
    never imports that environment, so it runs on Databricks without it."""
    from importlib.metadata import entry_points

    factories = entry_points(group=LOCAL_SPARK, name="session")
    if not factories:
        raise RuntimeError(
            "no Spark here: this is not Databricks, and the local environment, which "
            f"registers the entry point {LOCAL_SPARK}, is not installed (`make setup`)"
        )
    factory: Callable[[LakeSettings], SparkSession] = next(iter(factories)).load()
    return factory


def resolve(settings: "LakeSettings") -> LakeTarget:
    """The settings' target."""
    return LakeTarget(settings)
