"""The one settings object: which target, which bucket, which S3 endpoint, which catalog.

Values come from environment variables prefixed `LAKE_` (and from notebook parameters
or Databricks widgets, passed in explicitly). Defaults are the offline laptop setup.
"""

import contextlib
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Literal, Self, get_args

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lakehouse.raw_layout import RAW_PREFIX

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


# Where the notebooks run: the one setting that changes between a laptop and Databricks.
Target = Literal["local", "databricks"]
TARGETS: tuple[str, ...] = get_args(Target)


def default_target() -> Target:
    """`databricks` on a Databricks runtime, else `local`."""
    # Every Databricks runtime, classic or serverless, sets this variable.
    return "databricks" if os.environ.get("DATABRICKS_RUNTIME_VERSION") else "local"


class LakeSettings(BaseSettings):
    """Every setting of the lake, from `LAKE_*` variables and the job's parameters."""

    model_config = SettingsConfigDict(env_prefix="LAKE_", extra="ignore")

    target: Target = Field(default_factory=default_target)
    bucket: str = "stackexchange"
    # Unity Catalog catalog holding the bronze, silver and gold schemas. Empty: tables
    # are Delta paths in the bucket (the local layout).
    catalog: str = ""
    # Where raw dumps are read from; empty means s3a://<bucket>/raw. On Databricks, an
    # S3 external location (s3://...) or a Volume (/Volumes/<catalog>/<schema>/<volume>).
    raw_root: str = ""
    s3_endpoint: str = "http://127.0.0.1:4566"
    aws_access_key_id: str = EMULATOR_ACCESS_KEY
    aws_secret_access_key: SecretStr = SecretStr(EMULATOR_SECRET_KEY)
    aws_region: str = "us-east-1"
    archive_base_url: str = "https://archive.org/download"
    # Recent dumps come under per-release items, e.g. stackexchange_20250930; empty
    # means the newest release that holds the site.
    archive_item: str = ""
    max_extract_bytes: int = Field(default=512 * (1 << 30), gt=0)
    # What decodes a dump archive: Debian's 7-Zip where installed (`auto`), 7-Zip, or the
    # pure-Python py7zr (BENCHMARKS.md: Decoders).
    archive_decoder: Literal["auto", "7zz", "py7zr"] = "auto"
    # A site lock whose heartbeat is older than this is taken over (docs/concurrency.md);
    # the holder rewrites it every fifth of this.
    lock_stale_seconds: int = Field(default=600, gt=0)
    # A refresh that would delete more than this share of a site's rows in a table, with
    # no dump manifest vouching for the new count, stops instead (docs/refresh.md).
    max_deleted_share: float = Field(default=0.5, ge=0, le=1)
    # When the dump being ingested was published, stated by the user for a local archive
    # that no release item or listing dates (docs/refresh.md); else its newest row does.
    dump_published: datetime | None = None
    spark_cores: int = Field(default=2, ge=1)
    spark_driver_memory: str = "2g"
    # The local Spark Connect server (`make spark-start`), on loopback.
    spark_connect_port: int = Field(default=15002, gt=0, lt=65536)
    # A Spark Connect endpoint (sc://host:port) to run on instead of an in-process Spark.
    spark_remote: str = ""
    # Extra JVM flags for the local Spark driver; the tests use quick-start flags.
    spark_java_options: str = ""
    # The Python a job's code runs under here: the pipeline kernels and the local Spark
    # server's Python workers. Empty: this environment's own. The tests' Databricks side
    # gives .venv-databricks, the runtime's libraries (docs/how-it-works.md).
    job_python: str = ""

    @field_validator("spark_remote")
    @classmethod
    def _remote_is_a_connect_url(cls, remote: str) -> str:
        if remote and not remote.startswith("sc://"):
            raise ValueError(f"LAKE_SPARK_REMOTE={remote!r} is not a sc://host:port URL")
        return remote

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

    @field_validator("bucket")
    @classmethod
    def _bucket_is_an_s3_name(cls, bucket: str) -> str:
        if not _BUCKET_NAME.match(bucket):
            raise ValueError(
                f"LAKE_BUCKET={bucket!r} is not a valid S3 bucket name "
                "(3-63 lowercase letters, digits, dots or hyphens)"
            )
        return bucket

    @field_validator("s3_endpoint")
    @classmethod
    def _endpoint_is_http(cls, endpoint: str) -> str:
        if not re.match(r"^https?://[^/]+$", endpoint):
            raise ValueError(
                f"LAKE_S3_ENDPOINT={endpoint!r} must look like http://host:port (no path)"
            )
        return endpoint

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

    @property
    def raw_location(self) -> str:
        """The raw root: the setting `raw_root`, else `<bucket>/raw`."""
        return self.raw_root or f"s3a://{self.bucket}/{RAW_PREFIX}"

    def environment(self) -> dict[str, str]:
        """The `LAKE_*` variables that give a child process (a notebook kernel) this lake."""
        return {
            "LAKE_TARGET": self.target,
            "LAKE_BUCKET": self.bucket,
            "LAKE_S3_ENDPOINT": self.s3_endpoint,
            "LAKE_AWS_ACCESS_KEY_ID": self.aws_access_key_id,
            "LAKE_AWS_SECRET_ACCESS_KEY": self.aws_secret_access_key.get_secret_value(),
            "LAKE_AWS_REGION": self.aws_region,
            "LAKE_CATALOG": self.catalog,
            "LAKE_RAW_ROOT": self.raw_root,
            "LAKE_SPARK_REMOTE": self.spark_remote,
        }
