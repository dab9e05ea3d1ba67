"""The raw zone in the lake's bucket, as ingest writes it (layout: lakehouse.raw_layout)."""

import contextlib
import json
from pathlib import Path

from ingest.progress import byte_progress
from lakehouse.raw_layout import MANIFEST, RAW_PREFIX, dump_folder
from lakehouse.settings import LakeSettings

MULTIPART_THRESHOLD = 8 * (1 << 20)


def s3_client(settings: LakeSettings):
    """A boto3 S3 client for the configured endpoint, path-style as emulators need."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=settings.aws_secret_access_key.get_secret_value(),
        region_name=settings.aws_region,
        config=Config(
            s3={"addressing_style": "path"},
            # boto3 >= 1.36 adds CRC checksums that emulators may not verify or store
            # the same way; send them only when an operation requires them.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
        ),
    )


def ensure_bucket(s3, bucket: str) -> None:
    """Create the bucket unless it exists; another run creating it first is success."""
    existing = {entry["Name"] for entry in s3.list_buckets().get("Buckets", [])}
    if bucket in existing:
        return
    created_by_another = (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists)
    with contextlib.suppress(*created_by_another):
        s3.create_bucket(Bucket=bucket)


def raw_prefix(site: str, dump_id: str) -> str:
    """A dump's key prefix in the lake's bucket."""
    return f"{RAW_PREFIX}/{dump_folder(site, dump_id)}"


def read_manifest(s3, bucket: str, site: str, dump_id: str) -> dict | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=f"{raw_prefix(site, dump_id)}/{MANIFEST}")["Body"]
    except s3.exceptions.NoSuchKey:
        return None
    return json.loads(body.read())


def write_manifest(s3, bucket: str, site: str, dump_id: str, manifest: dict) -> None:
    s3.put_object(
        Bucket=bucket,
        Key=f"{raw_prefix(site, dump_id)}/{MANIFEST}",
        Body=json.dumps(manifest, indent=2, sort_keys=True).encode(),
        ContentType="application/json",
    )


def upload_file(s3, bucket: str, key: str, path: Path) -> None:
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(
        multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD
    )
    with byte_progress(f"upload {path.name}", path.stat().st_size) as advance:
        s3.upload_file(str(path), bucket, key, Config=config, Callback=advance)


def dumps_of_site(s3, bucket: str, site: str) -> list[str]:
    """The complete dumps of a site (those with a manifest), oldest first."""
    paginator = s3.get_paginator("list_objects_v2")
    dump_ids = []
    for page in paginator.paginate(Bucket=bucket, Prefix=f"raw/{site}/"):
        for entry in page.get("Contents", []):
            parts = entry["Key"].split("/")
            if len(parts) == 4 and parts[3] == MANIFEST:
                dump_ids.append(parts[2])
    return sorted(dump_ids)
