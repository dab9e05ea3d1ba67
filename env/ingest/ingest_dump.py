"""Ingest one dump: fetch and verify, extract safely, check each file, upload to raw.

A dump's id is `<publication date>-<8 hex of its archives' sha1s>`.

Nothing is uploaded until every archive has extracted and every file has passed its
structure check, so a bad archive leaves the lake as it was.
"""

import hashlib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ingest.archive_org import file_hashes
from ingest.extract import extract_tables
from ingest.raw_store import (
    dumps_of_site,
    ensure_bucket,
    raw_prefix,
    read_manifest,
    s3_client,
    upload_file,
    write_manifest,
)
from ingest.sources import DumpSource, FetchedArchive, Publication
from ingest.xml_check import XmlFileFacts, inspect_xml, newest_creation_date
from lakehouse.raw_layout import DUPLICATED_IDS
from lakehouse.schemas import DUMP_TABLES, REQUIRED_FILES
from lakehouse.settings import LakeSettings


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


def _publication(archives: list[FetchedArchive], files: list[Path]) -> Publication:
    """From the item or the listing; failing both, the newest post in the dump (a copied
    file's mtime says nothing about the dump)."""
    known = [a.publication for a in archives if a.publication]
    if known:
        return max(known, key=lambda publication: publication.date)
    posts = next(path for path in files if path.name == "Posts.xml")
    newest = newest_creation_date(posts)
    if newest is None:
        raise MissingRequiredFile(f"{posts.name}: no row has a CreationDate to date the dump by")
    return Publication(newest, "newest CreationDate in Posts.xml")


def _already_ingested(s3, bucket: str, site: str, digest: str) -> dict | None:
    """The manifest of this site's dump with these archives, if it is in the lake."""
    for dump_id in dumps_of_site(s3, bucket, site):
        if dump_id.endswith(f"-{digest}"):
            return read_manifest(s3, bucket, site, dump_id)
    return None


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
    }


def ingest_dump(source: DumpSource, settings: LakeSettings, work_dir: Path) -> IngestResult:
    """Fetch, check and upload one dump; a dump already in the lake is recognised by its
    archives' hashes, from the listing before any download where there is one."""
    s3 = s3_client(settings)
    ensure_bucket(s3, settings.bucket)
    site = source.site
    listed = source.listed()
    if listed is not None:
        digest = archives_digest({entry.name: entry.sha1 for entry in listed})
        if manifest := _already_ingested(s3, settings.bucket, site, digest):
            return _result_of(manifest, settings.bucket)
    archives = source.fetch(work_dir / "downloads")
    digest = _fetched_digest(archives)
    # A listed source was looked up by this same digest before the download.
    if listed is None and (manifest := _already_ingested(s3, settings.bucket, site, digest)):
        return _result_of(manifest, settings.bucket)

    # A folder of this call's own: two ingests of one dump never delete each other's files.
    (work_dir / "extract").mkdir(parents=True, exist_ok=True)
    extract_dir = Path(tempfile.mkdtemp(prefix=f"{site}-{digest}-", dir=work_dir / "extract"))
    try:
        files = [
            path
            for archive in archives
            for path in extract_tables(archive.path, extract_dir, settings.max_extract_bytes)
        ]
        present = {path.name for path in files}
        missing = [name for name in DUMP_TABLES if name not in present]
        absent_required = [name for name in REQUIRED_FILES if name not in present]
        if absent_required:
            raise MissingRequiredFile(
                f"{', '.join(a.path.name for a in archives)}: no {' or '.join(absent_required)}; "
                f"a dump needs {' and '.join(REQUIRED_FILES)}"
            )
        facts = [inspect_xml(path, DUMP_TABLES[path.name]) for path in files]
        publication = _publication(archives, files)
        dump_id = f"{publication.date:%Y-%m-%d}-{digest}"
        for path in files:
            upload_file(s3, settings.bucket, f"{raw_prefix(site, dump_id)}/{path.name}", path)
    finally:
        shutil.rmtree(extract_dir, ignore_errors=True)
    manifest = {
        "site": site,
        "dump_id": dump_id,
        "published": publication.date.isoformat(),
        "published_from": publication.evidence,
        "archives": [a.path.name for a in archives],
        **manifest_file_facts(facts),
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
