"""Fixtures of the refresh tests (test_refresh*.py): two lakes of their own in the
session's S3 server, so that no other test's load of the same site interferes."""

import pytest
from refresh_helpers import lake_in_bucket


@pytest.fixture(scope="module")
def refreshed_lake(spark, settings, s3_server):
    """Where an earlier dump is loaded, then the newer one."""
    return lake_in_bucket(spark, settings, f"{settings.bucket}-refreshed")


@pytest.fixture(scope="module")
def fresh_lake(spark, settings, s3_server):
    """Where the newer dump alone is loaded: the oracle."""
    return lake_in_bucket(spark, settings, f"{settings.bucket}-fresh")
