"""The one settings object: which target, which bucket, which S3 endpoint, which catalog.

Values come from environment variables prefixed `LAKE_` (and from notebook parameters
or Databricks widgets, passed in explicitly). Defaults are the offline laptop setup.
"""

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# LocalStack's documented fixed test credentials; they grant nothing anywhere else.
EMULATOR_ACCESS_KEY = "test"
EMULATOR_SECRET_KEY = "test"

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class LakeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LAKE_", extra="ignore")

    target: Literal["local", "databricks"] = "local"
    bucket: str = "stackexchange"
    s3_endpoint: str = "http://127.0.0.1:4566"
    aws_access_key_id: str = EMULATOR_ACCESS_KEY
    aws_secret_access_key: SecretStr = SecretStr(EMULATOR_SECRET_KEY)
    aws_region: str = "us-east-1"
    archive_base_url: str = "https://archive.org/download"
    # Recent dumps come under per-release items, e.g. stackexchange_20250930.
    archive_item: str = "stackexchange"
    max_extract_bytes: int = Field(default=512 * (1 << 30), gt=0)
    spark_cores: int = Field(default=2, ge=1)
    spark_driver_memory: str = "2g"
    # Extra JVM flags for the local Spark driver; the tests use quick-start flags.
    spark_java_options: str = ""

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

    @property
    def raw_root(self) -> str:
        return f"s3a://{self.bucket}/raw"

    def environment(self) -> dict[str, str]:
        """The `LAKE_*` variables that give a child process (a notebook kernel) this lake."""
        return {
            "LAKE_TARGET": self.target,
            "LAKE_BUCKET": self.bucket,
            "LAKE_S3_ENDPOINT": self.s3_endpoint,
            "LAKE_AWS_ACCESS_KEY_ID": self.aws_access_key_id,
            "LAKE_AWS_SECRET_ACCESS_KEY": self.aws_secret_access_key.get_secret_value(),
            "LAKE_AWS_REGION": self.aws_region,
        }
