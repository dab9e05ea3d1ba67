"""The one settings object: which target, which bucket, which S3 endpoint, which catalog.

Values come from environment variables prefixed `LAKE_` (and from notebook parameters
or Databricks widgets, passed in explicitly). Defaults are the offline laptop setup.
"""

import contextlib
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Literal, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lakehouse.target import Target, default_target

# LocalStack's documented fixed test credentials; they grant nothing anywhere else.
EMULATOR_ACCESS_KEY = "test"
EMULATOR_SECRET_KEY = "test"

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_CATALOG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RAW_LOCATION = re.compile(r"^(s3a?://[^/]+|/Volumes/[^/]+/[^/]+/[^/]+)(/.*)?$")


def setting_error_line(error: ValidationError) -> str:
    """A pydantic ValidationError of LakeSettings in one line that names the variable,
    the value it had and what it must be. Our own validators name the variable already."""
    first = error.errors()[0]
    if first["type"] == "value_error":
        return str(first["ctx"]["error"])
    variable = "LAKE_" + "_".join(str(part) for part in first["loc"]).upper()
    return (
        f"{variable}={first.get('input')!r}: {first['msg']}; set it to a valid value or "
        "unset it (docs/settings.md)"
    )


@contextlib.contextmanager
def environment_set(variables: dict[str, str]) -> Iterator[None]:
    """`variables` in this process's environment while the block runs (child processes
    started in it, such as a notebook kernel, inherit them), and as they were after."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class _LakeVariables(BaseSettings):
    # Each field's description is its row in docs/settings.md (`make docs` writes it, a
    # section per class below, under the class's docstring).
    model_config = SettingsConfigDict(env_prefix="LAKE_", extra="ignore")


class WhereSettings(_LakeVariables):
    """Where the lake is: the target, its bucket or catalog, and the raw dumps."""

    target: Target = Field(
        default_factory=default_target,
        description="where the notebooks run: `local`, or `databricks` (the default on a "
        "Databricks runtime)",
    )
    bucket: str = Field(default="stackexchange", description="the lake's bucket")
    catalog: str = Field(
        default="",
        description="Unity Catalog catalog holding the bronze, silver and gold schemas; set, "
        "tables are `<catalog>.<schema>.<table>`, else Delta paths in the bucket (job "
        "parameter `catalog`)",
    )
    raw_root: str = Field(
        default="",
        description="where raw dumps are read: empty, `s3a://<bucket>/raw`; on Databricks an "
        "S3 external location (`s3://...`) or a Volume (`/Volumes/<catalog>/<schema>/<volume>`) "
        "(job parameter `raw_root`)",
    )

    @field_validator("bucket")
    @classmethod
    def _bucket_is_an_s3_name(cls, bucket: str) -> str:
        if not _BUCKET_NAME.match(bucket):
            raise ValueError(
                f"LAKE_BUCKET={bucket!r} is not a valid S3 bucket name "
                "(3-63 lowercase letters, digits, dots or hyphens)"
            )
        return bucket

    @field_validator("catalog")
    @classmethod
    def _catalog_is_an_identifier(cls, catalog: str) -> str:
        if catalog and not _CATALOG_NAME.match(catalog):
            raise ValueError(f"LAKE_CATALOG={catalog!r} is not a catalog name (letters, digits, _)")
        return catalog

    @field_validator("raw_root")
    @classmethod
    def _raw_root_is_a_location(cls, raw_root: str) -> str:
        if raw_root and not _RAW_LOCATION.match(raw_root):
            raise ValueError(
                f"LAKE_RAW_ROOT={raw_root!r} must be s3://bucket/prefix or "
                "/Volumes/<catalog>/<schema>/<volume>/prefix"
            )
        return raw_root.rstrip("/")

    @model_validator(mode="after")
    def _databricks_names_its_tables_and_input(self) -> Self:
        if self.target == "databricks":
            missing = [
                f"LAKE_{name.upper()} (job parameter `{name}`)"
                for name in ("catalog", "raw_root")
                if not getattr(self, name)
            ]
            if missing:
                raise ValueError(f"target databricks needs {' and '.join(missing)}")
        return self


class S3Settings(_LakeVariables):
    """How every client reaches the lake's S3 (lakehouse.target.S3Access)."""

    s3_endpoint: str = Field(
        default="http://127.0.0.1:4566",
        description="the S3 server; LocalStack already on this port is used as it is",
    )
    aws_access_key_id: str = Field(
        default=EMULATOR_ACCESS_KEY,
        description="the S3 server's key; the default is the emulator's fixed test key",
    )
    aws_secret_access_key: SecretStr = Field(
        default=SecretStr(EMULATOR_SECRET_KEY),
        description="its secret; the default is the emulator's, which grants nothing elsewhere",
    )
    aws_region: str = Field(default="us-east-1", description="the S3 region")

    @field_validator("s3_endpoint")
    @classmethod
    def _endpoint_is_http(cls, endpoint: str) -> str:
        if not re.match(r"^https?://[^/]+$", endpoint):
            raise ValueError(
                f"LAKE_S3_ENDPOINT={endpoint!r} must look like http://host:port (no path)"
            )
        return endpoint


class IngestSettings(_LakeVariables):
    """What ingest fetches, and what it refuses."""

    archive_base_url: str = Field(
        default="https://archive.org/download",
        description="where release items are downloaded from (the tests serve a mirror)",
    )
    archive_item: str = Field(
        default="",
        description="archive.org item for `SITE=`, e.g. `stackexchange_20250930`; empty: the "
        "newest release holding the site",
    )
    max_extract_bytes: int = Field(
        default=512 * (1 << 30),
        gt=0,
        description="refuse archives that declare more bytes (512 GiB)",
    )
    archive_decoder: Literal["auto", "7zz", "py7zr"] = Field(
        default="auto",
        description="what decodes the archives: `7zz` (Debian's `7zip`, which `auto` uses "
        "where installed) or the pure-Python `py7zr` (BENCHMARKS.md: Decoders)",
    )
    dump_published: datetime | None = Field(
        default=None,
        description="when a local archive that no release item or `_files.xml` dates was "
        "published (`YYYY-MM-DD`; `make local-run PUBLISHED=`, `lake run --published`); "
        "empty: the dump's newest row (refresh.md)",
    )

    @field_validator("dump_published", mode="before")
    @classmethod
    def _published_is_a_time(cls, value: object) -> object:
        if not isinstance(value, str) or not value:
            return value or None
        try:
            published = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"LAKE_DUMP_PUBLISHED={value!r} is not a date: write it as YYYY-MM-DD or an "
                "ISO time such as 2025-06-30T12:00:00"
            ) from None
        return published if published.tzinfo else published.replace(tzinfo=UTC)


class GuardSettings(_LakeVariables):
    """What stops a run rather than lose data."""

    lock_stale_seconds: int = Field(
        default=600,
        gt=0,
        description="a site lock without a heartbeat this long is taken over; the holder "
        "rewrites it every fifth of this (concurrency.md)",
    )
    max_deleted_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="a refresh that would delete more of a site's rows in a table stops "
        "instead (refresh.md)",
    )
    compare_max_rows: int = Field(
        default=10_000,
        ge=0,
        description="a table computed from bronze (data quality, silver, gold) whose site "
        "holds more rows, or whose input does (the silver posts a gold table aggregates), "
        "is rewritten without first comparing the new rows with them: "
        "cheaper, but a commit even for the same rows, and not under the deletion guard "
        "(bronze's is); raise it to keep both (refresh.md)",
    )


class LocalSparkSettings(_LakeVariables):
    """The local Spark, off Databricks."""

    spark_cores: int = Field(default=2, ge=1, description="the local Spark's cores")
    spark_driver_memory: str = Field(default="2g", description="the local Spark's memory")
    spark_connect_port: int = Field(
        default=15002,
        gt=0,
        lt=65536,
        description="the port of the local Spark Connect server, on loopback (spark.md)",
    )
    spark_remote: str = Field(
        default="",
        description="a Spark Connect URL (`sc://host:port`) for every runner; empty: the local "
        "server, started when down",
    )
    spark_java_options: str = Field(
        default="",
        description=(
            "extra JVM flags for the local Spark, and for every JVM of the standalone "
            "cluster (so none that names a port or a file); the tests use quick-start ones"
        ),
    )
    job_python: str = Field(
        default="",
        description="the Python of the pipeline kernels and of the local Spark server's Python "
        "workers; empty: this environment's. The tests' Databricks side gives "
        "`.venv-databricks`, the runtime's libraries (how-it-works.md)",
    )

    @field_validator("spark_remote")
    @classmethod
    def _remote_is_a_connect_url(cls, remote: str) -> str:
        if remote and not remote.startswith("sc://"):
            raise ValueError(f"LAKE_SPARK_REMOTE={remote!r} is not a sc://host:port URL")
        return remote


class LakeSettings(LocalSparkSettings, GuardSettings, IngestSettings, S3Settings, WhereSettings):
    """Every setting of the lake, from `LAKE_*` variables and the job's parameters, by
    concern (fields in the order of the classes above)."""

    def environment(self) -> dict[str, str]:
        """The `LAKE_*` variables that give a child process (a notebook kernel) these
        settings: every field, as this object holds it."""
        variables = {}
        for name, value in self:
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, datetime):
                value = value.isoformat()
            if value is not None:
                variables[f"LAKE_{name.upper()}"] = str(value)
        return variables
