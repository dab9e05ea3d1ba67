"""Ingest one dump: fetch and verify, extract safely, check each file, upload to raw.

Nothing is uploaded until every archive has extracted and every file has passed its
structure check, so a bad archive leaves the lake as it was.
"""

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.ingest.archive_org import file_hashes
from lakehouse.ingest.extract import extract_tables
from lakehouse.ingest.raw_store import (
    ensure_bucket,
    raw_prefix,
    read_manifest,
    s3_client,
    upload_file,
    write_manifest,
)
from lakehouse.ingest.sources import DumpSource, FetchedArchive
from lakehouse.ingest.xml_check import inspect_xml
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


def dump_id_for(archives: list[FetchedArchive]) -> str:
    """`<publication date>-<8 hex of the archives' sha1>`, stable for the same bytes."""
    digest = hashlib.sha1(usedforsecurity=False)
    for archive in sorted(archives, key=lambda a: a.path.name):
        sha1 = archive.listed.sha1 if archive.listed else file_hashes(archive.path)[1]
        digest.update(sha1.encode())
    published = max(archive.published for archive in archives)
    return f"{published:%Y-%m-%d}-{digest.hexdigest()[:8]}"


def ingest_dump(source: DumpSource, settings: LakeSettings, work_dir: Path) -> IngestResult:
    archives = source.fetch(work_dir / "downloads")
    site, dump_id = source.site, dump_id_for(archives)
    s3 = s3_client(settings)
    ensure_bucket(s3, settings.bucket)
    result = IngestResult(site=site, dump_id=dump_id, bucket=settings.bucket)
    manifest = read_manifest(s3, settings.bucket, site, dump_id)
    if manifest is not None:
        result.rows, result.sha1 = manifest["rows"], manifest["sha1"]
        result.missing, result.already_ingested = manifest["missing"], True
        return result

    extract_dir = work_dir / "extract" / site / dump_id
    shutil.rmtree(extract_dir, ignore_errors=True)
    try:
        files = [
            path
            for archive in archives
            for path in extract_tables(archive.path, extract_dir, settings.max_extract_bytes)
        ]
        present = {path.name for path in files}
        result.missing = [name for name in DUMP_TABLES if name not in present]
        absent_required = [name for name in REQUIRED_FILES if name not in present]
        if absent_required:
            raise MissingRequiredFile(
                f"{', '.join(a.path.name for a in archives)}: no {' or '.join(absent_required)}; "
                f"a dump needs {' and '.join(REQUIRED_FILES)}"
            )
        facts = [inspect_xml(path, DUMP_TABLES[path.name]) for path in files]
        for path in files:
            upload_file(s3, settings.bucket, f"{raw_prefix(site, dump_id)}/{path.name}", path)
    finally:
        shutil.rmtree(extract_dir, ignore_errors=True)
    result.rows = {fact.file_name: fact.rows for fact in facts}
    result.sha1 = {fact.file_name: fact.sha1 for fact in facts}
    write_manifest(
        s3,
        settings.bucket,
        site,
        dump_id,
        {
            "site": site,
            "dump_id": dump_id,
            "archives": [a.path.name for a in archives],
            "rows": result.rows,
            "sha1": result.sha1,
            "missing": result.missing,
        },
    )
    return result
