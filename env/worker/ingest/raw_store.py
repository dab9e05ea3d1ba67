"""The raw zone in the lake's bucket, as ingest writes it (layout: lakehouse.raw_layout)."""

import contextlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse.raw_layout import MANIFEST, RAW_PREFIX, dump_folder
from lakehouse.settings import LakeSettings
from lakehouse.target import resolve
from worker.ingest.progress import byte_progress

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

MULTIPART_THRESHOLD = 8 * (1 << 20)
MAX_PARTS = 9_000  # S3 allows 10,000; the margin covers a member larger than declared


def s3_client(settings: LakeSettings):
    """A boto3 S3 client for the configured endpoint, path-style as emulators need."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        **resolve(settings).s3.boto3(),
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


def stored_manifest(s3, bucket: str, site: str, dump_id: str) -> dict | None:
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
    for page in paginator.paginate(Bucket=bucket, Prefix=f"{RAW_PREFIX}/{site}/"):
        for entry in page.get("Contents", []):
            parts = entry["Key"].split("/")
            if len(parts) == 4 and parts[3] == MANIFEST:
                dump_ids.append(parts[2])
    return sorted(dump_ids)


class PendingObject:
    """An object written piece by piece that nobody sees until `publish()`: a multipart
    upload once it outgrows one part, held in memory below that. `abort()` leaves nothing.

    At most `IN_FLIGHT` parts are uploading at a time, so memory stays flat however large
    the object grows; the parts grow past `PART_BYTES` only so that an object of
    `expected_bytes` stays under S3's 10,000 parts.
    """

    IN_FLIGHT = 2

    def __init__(self, s3, bucket: str, key: str, expected_bytes: int = 0) -> None:
        self.s3, self.bucket, self.key = s3, bucket, key
        self.part_bytes = max(MULTIPART_THRESHOLD, -(-expected_bytes // MAX_PARTS))
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list = []  # futures of {"PartNumber", "ETag"}
        self.pool: ThreadPoolExecutor | None = None

    def write(self, data: bytes) -> None:
        """Add bytes at the end of the object."""
        self.buffer += data
        while len(self.buffer) >= self.part_bytes:
            part = bytes(self.buffer[: self.part_bytes])
            del self.buffer[: self.part_bytes]
            self._send(part)

    def _send(self, part: bytes) -> None:
        from concurrent.futures import ThreadPoolExecutor

        if self.upload_id is None:
            self.upload_id = self.s3.create_multipart_upload(Bucket=self.bucket, Key=self.key)[
                "UploadId"
            ]
            self.pool = ThreadPoolExecutor(self.IN_FLIGHT, thread_name_prefix="upload")
        waiting = [future for future in self.parts if not future.done()]
        if len(waiting) >= self.IN_FLIGHT:
            waiting[0].result()
        number = len(self.parts) + 1
        assert self.pool is not None  # started with the upload
        self.parts.append(self.pool.submit(self._upload_part, number, part))

    def _upload_part(self, number: int, part: bytes) -> dict:
        response = self.s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=part
        )
        return {"PartNumber": number, "ETag": response["ETag"]}

    def publish(self) -> None:
        """Make the object visible under its key, whole."""
        if self.upload_id is None:
            self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self.buffer))
            return
        if self.buffer:
            self._send(bytes(self.buffer))
            self.buffer.clear()
        parts = [future.result() for future in self.parts]
        self.s3.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": parts},
        )
        assert self.pool is not None  # started with the upload
        self.pool.shutdown()

    def abort(self) -> None:
        """Drop what was written; nothing appears under the key."""
        self.buffer.clear()
        if self.upload_id is None:
            return
        assert self.pool is not None  # started with the upload
        self.pool.shutdown(cancel_futures=True)
        with contextlib.suppress(Exception):  # best effort: the bucket's lifecycle rule or
            # a later abort removes an upload this one could not
            self.s3.abort_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id
            )
