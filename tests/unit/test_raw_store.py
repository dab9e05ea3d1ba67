"""The code that talks to S3, in-process against moto's `mock_aws`."""

import json

import pytest
from moto import mock_aws

from lakehouse.settings import LakeSettings
from worker.ingest.raw_store import (
    dumps_of_site,
    ensure_bucket,
    s3_client,
    stored_manifest,
    upload_file,
    write_manifest,
)


@pytest.fixture
def s3(monkeypatch):
    # moto intercepts boto3 for AWS's own endpoint; no server, no network.
    with mock_aws():
        client = s3_client(LakeSettings(s3_endpoint="https://s3.amazonaws.com"))
        ensure_bucket(client, "lake")
        yield client


def test_ensure_bucket_is_idempotent(s3):
    ensure_bucket(s3, "lake")
    ensure_bucket(s3, "lake")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["lake"]


def test_manifest_round_trip_and_absence(s3):
    assert stored_manifest(s3, "lake", "a.example.com", "2024-01-01-00000000") is None
    write_manifest(s3, "lake", "a.example.com", "2024-01-01-00000000", {"rows": {"Posts.xml": 3}})
    key = "raw/a.example.com/2024-01-01-00000000/manifest.json"
    assert json.loads(s3.get_object(Bucket="lake", Key=key)["Body"].read()) == {
        "rows": {"Posts.xml": 3}
    }
    assert stored_manifest(s3, "lake", "a.example.com", "2024-01-01-00000000") == {
        "rows": {"Posts.xml": 3}
    }


def test_only_dumps_with_a_manifest_count_as_complete(s3):
    write_manifest(s3, "lake", "a.example.com", "2024-02-01-bbbbbbbb", {})
    write_manifest(s3, "lake", "a.example.com", "2023-01-01-aaaaaaaa", {})
    s3.put_object(Bucket="lake", Key="raw/a.example.com/2025-01-01-cccccccc/Posts.xml", Body=b"x")
    write_manifest(s3, "lake", "b.example.com", "2026-01-01-dddddddd", {})
    assert dumps_of_site(s3, "lake", "a.example.com") == [
        "2023-01-01-aaaaaaaa",
        "2024-02-01-bbbbbbbb",
    ]


def test_upload_of_a_multipart_sized_file(s3, tmp_path):
    data = bytes(range(256)) * 40_000  # 10 MB: over the 8 MiB multipart threshold
    path = tmp_path / "Posts.xml"
    path.write_bytes(data)
    upload_file(s3, "lake", "raw/x/Posts.xml", path)
    assert s3.get_object(Bucket="lake", Key="raw/x/Posts.xml")["Body"].read() == data
