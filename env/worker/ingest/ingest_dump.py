"""Ingest one dump: fetch and verify, then stream each table file out of its archive,
through the structure check, into the lake's raw zone, in one pass and never to disk.

A dump's id is `<publication date>-<8 hex of its archives' sha1s>`.

Nothing is visible in the lake until every file has streamed and passed its check: each
file is an upload that is published only then (worker.ingest.raw_store.PendingObject), and the
manifest, which marks a dump complete, is written last. A bad archive or file leaves
the lake as it was. Scratch disk holds the downloaded archive and nothing else.
"""

import errno
import hashlib
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from lakehouse.raw_layout import DUPLICATED_IDS, RAW_PREFIX, ROW_IDS, row_ids_file
from lakehouse.schemas import DUMP_TABLES, REQUIRED_FILES
from lakehouse.settings import LakeSettings
from worker.ingest.archive_members import Member, stream_members, table_members
from worker.ingest.archive_org import file_hashes
from worker.ingest.raw_store import (
    PendingObject,
    dumps_of_site,
    ensure_bucket,
    raw_prefix,
    s3_client,
    stored_manifest,
    write_manifest,
)
from worker.ingest.sources import DumpSource, FetchedArchive, Publication
from worker.ingest.xml_check import XmlFileFacts, XmlStreamCheck

# An undated dump's files wait under `raw/<site>/.incoming-<digest>-<random>/` (Spark and
# the dump listing skip names starting with a dot) until Posts.xml dates the dump.
STAGING = ".incoming-"
STATED = "stated by LAKE_DUMP_PUBLISHED"


class MissingRequiredFile(RuntimeError):
    pass


@dataclass
class IngestResult:
    site: str
    dump_id: str
    bucket: str
    rows: dict[str, int] = field(default_factory=dict)
    sha1: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    already_ingested: bool = False

    @property
    def raw_uri(self) -> str:
        return f"s3://{self.bucket}/{raw_prefix(self.site, self.dump_id)}"


def archives_digest(sha1s_by_name: dict[str, str]) -> str:
    """8 hex of the archives' sha1s: the same bytes always give the same dump."""
    digest = hashlib.sha1(usedforsecurity=False)
    for name in sorted(sha1s_by_name):
        digest.update(sha1s_by_name[name].encode())
    return digest.hexdigest()[:8]


def _fetched_digest(archives: list[FetchedArchive]) -> str:
    return archives_digest(
        {a.path.name: a.listed.sha1 if a.listed else file_hashes(a.path)[1] for a in archives}
    )


def _dated_by_rows(facts: list[XmlFileFacts]) -> Publication:
    """For a dump no item, listing or setting dates: the newest date of any of its rows
    (a copied file's mtime says nothing about the dump)."""
    dated = [(fact.newest_time, fact.file_name) for fact in facts if fact.newest_time is not None]
    if not dated:
        raise MissingRequiredFile(
            "no row of the dump has a date to date it by; state when it was published with "
            "LAKE_DUMP_PUBLISHED=YYYY-MM-DD (or `lake run --published`)"
        )
    newest, file_name = max(dated, key=lambda pair: pair[0])
    return Publication(newest, f"newest date of any row ({file_name})")


def _known_publication(archives: list[FetchedArchive]) -> Publication | None:
    known = [a.publication for a in archives if a.publication]
    return max(known, key=lambda publication: publication.date) if known else None


def _stated(settings: LakeSettings) -> Publication | None:
    if settings.dump_published is None:
        return None
    return Publication(settings.dump_published, STATED)


def _already_ingested(
    s3, bucket: str, site: str, digest: str, stated: Publication | None
) -> dict | None:
    """The manifest of this site's dump with these archives, if it is in the lake. With
    a stated time, a copy that nothing but its rows or another stated time dated is not
    it: the dump is ingested again under the stated time, and keeps its first id too."""
    for dump_id in dumps_of_site(s3, bucket, site):
        if not dump_id.endswith(f"-{digest}"):
            continue
        manifest = stored_manifest(s3, bucket, site, dump_id)
        if manifest is None:  # the dump was deleted since it was listed
            continue
        if stated is None or not _undated(manifest) or _published(manifest) == stated.date:
            return manifest
    return None


def _undated(manifest: dict) -> bool:
    """Dated by its own rows, or by a stated time: by nothing outside the dump."""
    return manifest.get("published_from", "").startswith(("newest ", STATED))


def _published(manifest: dict) -> datetime | None:
    published = manifest.get("published")
    return datetime.fromisoformat(published) if published else None


def _result_of(manifest: dict, bucket: str) -> IngestResult:
    return IngestResult(
        site=manifest["site"],
        dump_id=manifest["dump_id"],
        bucket=bucket,
        rows=manifest["rows"],
        sha1=manifest["sha1"],
        missing=manifest["missing"],
        already_ingested=True,
    )


def manifest_file_facts(facts: list[XmlFileFacts]) -> dict:
    """The manifest's fields about each file: what bronze checks it against."""
    return {
        "rows": {fact.file_name: fact.rows for fact in facts},
        "sha1": {fact.file_name: fact.sha1 for fact in facts},
        "bytes": {fact.file_name: fact.bytes for fact in facts},
        "encodings": {fact.file_name: fact.encoding for fact in facts},
        DUPLICATED_IDS: {
            fact.file_name: sorted(fact.duplicated_ids.items())
            for fact in facts
            if fact.duplicated_ids is not None
        },
        ROW_IDS: {
            fact.file_name: row_ids_file(fact.file_name)
            for fact in facts
            if fact.row_ids is not None
        },
    }


def ingest_dump(source: DumpSource, settings: LakeSettings, work_dir: Path) -> IngestResult:
    """Fetch, check and upload one dump; a dump already in the lake is recognised by its
    archives' hashes, from the listing before any download where there is one."""
    s3 = s3_client(settings)
    ensure_bucket(s3, settings.bucket)
    site, stated = source.site, _stated(settings)
    listed = source.listed()
    if listed is not None:
        digest = archives_digest({entry.name: entry.sha1 for entry in listed})
        if manifest := _already_ingested(s3, settings.bucket, site, digest, stated):
            return _result_of(manifest, settings.bucket)
    archives = _fetch(source, work_dir / "downloads")
    digest = _fetched_digest(archives)
    # A listed source was looked up by this same digest before the download.
    if listed is None and (
        manifest := _already_ingested(s3, settings.bucket, site, digest, stated)
    ):
        return _result_of(manifest, settings.bucket)

    members = {a.path: table_members(a.path, settings.max_extract_bytes) for a in archives}
    present = {member.name for found in members.values() for member in found}
    missing = [name for name in DUMP_TABLES if name not in present]
    absent_required = [name for name in REQUIRED_FILES if name not in present]
    if absent_required:
        raise MissingRequiredFile(
            f"{', '.join(a.path.name for a in archives)}: no {' or '.join(absent_required)}; "
            f"a dump needs {' and '.join(REQUIRED_FILES)}"
        )
    known = _known_publication(archives) or stated
    upload = _DumpUpload(
        s3,
        settings.bucket,
        known is None,
        # Undated, the dump's folder is known only once every file has streamed past.
        raw_prefix(site, f"{known.date:%Y-%m-%d}-{digest}")
        if known
        else f"{RAW_PREFIX}/{site}/{STAGING}{digest}-{uuid.uuid4().hex[:8]}",
    )
    try:
        for archive in archives:
            stream_members(
                archive.path, members[archive.path], upload.open_file, settings.archive_decoder
            )
        publication = known or _dated_by_rows(upload.facts)
        dump_id = f"{publication.date:%Y-%m-%d}-{digest}"
        upload.publish(raw_prefix(site, dump_id))
    except BaseException:
        upload.abort()
        raise
    manifest = {
        "site": site,
        "dump_id": dump_id,
        "published": publication.date.isoformat(),
        "published_from": publication.evidence,
        "archives": [a.path.name for a in archives],
        **manifest_file_facts(upload.facts),
        "missing": missing,
    }
    write_manifest(s3, settings.bucket, site, dump_id, manifest)
    return IngestResult(
        site=site,
        dump_id=dump_id,
        bucket=settings.bucket,
        rows=manifest["rows"],
        sha1=manifest["sha1"],
        missing=missing,
    )


class DiskFull(OSError):
    """The scratch disk filled up while a dump archive was downloaded."""


def _fetch(source: DumpSource, downloads: Path) -> list[FetchedArchive]:
    try:
        return source.fetch(downloads)
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        raise DiskFull(
            f"{downloads}: no space left on the disk while fetching the dump of {source.site} "
            "(the setting LAKE_WORK_DIR places this scratch space; ingest needs room for the "
            "archives alone)"
        ) from None


class _DumpUpload:
    """The files of one dump on their way to raw: each checked as it streams, and none
    visible until `publish`."""

    def __init__(self, s3, bucket: str, date_rows: bool, prefix: str) -> None:
        self.s3, self.bucket, self.prefix = s3, bucket, prefix
        self.date_rows = date_rows  # the dump is dated by its newest row
        self.pending: dict[str, PendingObject] = {}
        self.facts: list[XmlFileFacts] = []

    def open_file(self, member: Member) -> "_CheckedFile":
        key = f"{self.prefix}/{member.name}"
        self.pending[member.name] = PendingObject(self.s3, self.bucket, key, member.size)
        return _CheckedFile(self, member, self.pending[member.name])

    def add_file(self, name: str, data: bytes) -> None:
        """A file of ingest's own beside the dump's, published with them."""
        self.pending[name] = PendingObject(self.s3, self.bucket, f"{self.prefix}/{name}")
        self.pending[name].write(data)

    def publish(self, final_prefix: str) -> None:
        """Make every file visible; an undated dump's files are copied to their folder."""
        for pending in self.pending.values():
            pending.publish()
        if final_prefix == self.prefix:
            return
        for name, pending in self.pending.items():
            source = {"Bucket": self.bucket, "Key": pending.key}
            self.s3.copy(source, self.bucket, f"{final_prefix}/{name}")
        self._delete_staged()

    def abort(self) -> None:
        """Drop the pending uploads and this ingest's own staged files. Files already
        published under the dump's folder stay: a check fails before any is published,
        and another ingest of the same dump (Airflow's ingests take no site lock) may
        have published the same bytes under the same keys, with its manifest."""
        for pending in self.pending.values():
            pending.abort()
        if self.prefix.split("/")[-1].startswith(STAGING):
            self._delete_staged()

    def _delete_staged(self) -> None:
        for pending in self.pending.values():
            self.s3.delete_object(Bucket=self.bucket, Key=pending.key)


class _CheckedFile:
    """One member: its bytes through the structure check into its pending upload."""

    def __init__(self, upload: _DumpUpload, member: Member, pending: PendingObject) -> None:
        self.upload, self.member = upload, member
        self.started = time.monotonic()
        self.check = XmlStreamCheck(
            member.name,
            DUMP_TABLES[member.name],
            pending.write,
            progress=self._progress,
            date_rows=upload.date_rows,
        )

    def _progress(self, size: int, rows: int) -> None:
        share = size / self.member.size if self.member.size else 1
        rate = size / 1e6 / max(time.monotonic() - self.started, 1e-9)
        print(
            f"ingest {self.member.name}: {size / 1e9:,.2f} GB ({share:.0%}), {rows:,} rows, "
            f"{rate:,.0f} MB/s",
            file=sys.stderr,
            flush=True,
        )

    def write(self, data: bytes) -> None:
        self.check.write(data)

    def close(self) -> None:
        facts = self.check.close()
        if facts.row_ids is not None:
            self.upload.add_file(row_ids_file(facts.file_name), facts.row_ids)
        self.upload.facts.append(facts)
