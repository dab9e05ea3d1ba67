"""The target is decided in lakehouse/target.py alone, and each S3 client gets its settings
from one description there."""

import re

import pytest

from lakehouse.settings import LakeSettings
from lakehouse.table_locations import CatalogTables, DeltaPaths
from lakehouse.target import resolve
from worker.paths import REPO_ROOT

TARGET_MODULE = REPO_ROOT / "notebooks" / "lakehouse" / "target.py"
# What deciding a target takes: the runtime's variable, the notebook's `dbutils`, a naming
# built, an S3 client's endpoint spelled.
DECIDING = re.compile(
    r'DATABRICKS_RUNTIME_VERSION|"dbutils"|DeltaPaths\(|CatalogTables\(|AWS_ENDPOINT_URL'
    r'|fs\.s3a\.endpoint"|endpoint_url=|"endpoint_url":'
)


def test_the_target_is_decided_in_one_module():
    found = []
    for folder in ("notebooks", "env", "dags"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if DECIDING.search(line) and path != TARGET_MODULE:
                    found.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)
    assert len(DECIDING.findall(TARGET_MODULE.read_text())) >= 6


@pytest.mark.parametrize("scheme, secure", [("http", False), ("https", True)])
def test_every_client_reaches_the_same_s3(scheme, secure):
    settings = LakeSettings(
        s3_endpoint=f"{scheme}://s3.example.com:9000",
        aws_access_key_id="key-id",
        aws_secret_access_key="key-secret",
        aws_region="eu-west-3",
    )
    s3 = resolve(settings).s3
    endpoint = f"{scheme}://s3.example.com:9000"
    s3a, delta_rs, boto3 = s3.s3a(), s3.delta_rs(), s3.boto3()
    assert [
        s3a[f"spark.hadoop.fs.s3a.{key}"] for key in ("endpoint", "access.key", "secret.key")
    ] == [
        endpoint,
        "key-id",
        "key-secret",
    ]
    assert s3a["spark.hadoop.fs.s3a.endpoint.region"] == "eu-west-3"
    assert s3a["spark.hadoop.fs.s3a.connection.ssl.enabled"] == str(secure).lower()
    assert [
        delta_rs[f"AWS_{key}"]
        for key in ("ENDPOINT_URL", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "REGION")
    ] == [
        endpoint,
        "key-id",
        "key-secret",
        "eu-west-3",
    ]
    assert delta_rs["AWS_ALLOW_HTTP"] == str(not secure).lower()
    assert s3.airflow_connection() == {
        "conn_type": "aws",
        "login": "key-id",
        "password": "key-secret",
        "extra": {"endpoint_url": endpoint, "region_name": "eu-west-3"},
    }
    assert boto3 == {
        "endpoint_url": endpoint,
        "aws_access_key_id": "key-id",
        "aws_secret_access_key": "key-secret",
        "region_name": "eu-west-3",
    }


def test_the_secret_stays_out_of_the_targets_text():
    target = resolve(LakeSettings(aws_secret_access_key="do-not-print"))
    assert "do-not-print" not in repr(target)
    assert "do-not-print" not in str(target.s3)


def test_local_names_paths_in_the_bucket_and_databricks_its_catalog():
    local = resolve(LakeSettings(target="local", bucket="lake"))
    assert (local.name, local.naming, local.raw_location) == (
        "local",
        DeltaPaths("lake"),
        "s3a://lake/raw",
    )
    settings = LakeSettings(target="databricks", catalog="main", raw_root="/Volumes/m/l/d/raw")
    databricks = resolve(settings)
    assert (databricks.name, databricks.naming, databricks.raw_location) == (
        "databricks",
        CatalogTables("main"),
        "/Volumes/m/l/d/raw",
    )
