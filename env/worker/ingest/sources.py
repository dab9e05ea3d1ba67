"""Where a dump archive comes from: archive.org, a local `.7z`, or the generated sample.

Every source hands back verified local archives behind the same small interface, so
the ingest step, the DAG and the tests can swap one source for another.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Protocol, cast
from urllib.parse import urlparse

from dump_generator.sample import SampleSpec, pack_sample_dump
from lakehouse.schemas import DUMP_TABLES
from worker.ingest.archive_org import (
    ArchiveFile,
    download,
    fetch_files_xml,
    parse_files_xml,
    release_date,
    release_items,
    verify,
)

_SITE = re.compile(r"^[a-z0-9][a-z0-9.-]*\.[a-z]{2,}$")
# Stack Overflow ships one archive per table: stackoverflow.com-Posts.7z.
_PER_TABLE_ARCHIVE = re.compile(r"^(?P<site>.+)-(?P<table>[A-Za-z]+)\.7z$")


@dataclass(frozen=True)
class Publication:
    """When a dump was published, and what says so."""

    date: datetime
    evidence: str  # e.g. "archive.org item stackexchange_20250630"


@dataclass(frozen=True)
class FetchedArchive:
    path: Path
    listed: ArchiveFile | None  # Its entry in an archive.org _files.xml, when there is one.
    # None when neither an item nor a listing dates it: the dump's own rows then do.
    publication: Publication | None = None


def listed_publication(listed: ArchiveFile | None, files_xml: str) -> Publication | None:
    if listed is None or not listed.mtime:
        return None
    return Publication(
        datetime.fromtimestamp(listed.mtime, UTC), f"mtime of {listed.name} in {files_xml}"
    )


class DumpSource(Protocol):
    @property
    def site(self) -> str: ...

    def fetch(self, downloads: Path) -> list[FetchedArchive]: ...

    def listed(self) -> list[ArchiveFile] | None:
        """The archives' entries in a `_files.xml` (their hashes), read before any
        download; None when a source has no listing."""


def site_of_archive(name: str) -> str:
    """`french.stackexchange.com.7z` and `stackoverflow.com-Posts.7z` -> their site."""
    match = _PER_TABLE_ARCHIVE.match(name)
    if match and f"{match['table']}.xml" in DUMP_TABLES:
        site = match["site"]
    else:
        site = name.removesuffix(".7z")
    if not name.endswith(".7z") or not _SITE.match(site):
        raise ValueError(f"{name!r} is not a dump archive name like <site>.7z")
    return site


@dataclass(frozen=True)
class LocalArchive:
    """A `.7z` on disk (or a folder of per-table archives), checked against a sibling
    `*_files.xml` when one lists it."""

    path: Path

    @property
    def archives(self) -> list[Path]:
        if self.path.is_dir():
            found = sorted(self.path.glob("*.7z"))
            if not found:
                raise FileNotFoundError(f"{self.path}: no .7z archives in this folder")
            return found
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: no such dump archive")
        return [self.path]

    @property
    def site(self) -> str:
        sites = {site_of_archive(path.name) for path in self.archives}
        if len(sites) != 1:
            raise ValueError(f"{self.path}: archives of several sites: {sorted(sites)}")
        return sites.pop()

    def _listing(self, archive: Path) -> tuple[ArchiveFile | None, str]:
        for files_xml in sorted(archive.parent.glob("*_files.xml")):
            listed = parse_files_xml(files_xml.read_bytes(), source=str(files_xml))
            if archive.name in listed:
                return listed[archive.name], files_xml.name
        return None, ""

    def listed(self) -> list[ArchiveFile] | None:
        entries = [self._listing(archive)[0] for archive in self.archives]
        return None if None in entries else cast(list[ArchiveFile], entries)

    def fetch(self, downloads: Path) -> list[FetchedArchive]:
        fetched = []
        for archive in self.archives:
            listed, files_xml = self._listing(archive)
            if listed:
                verify(archive, listed)
            fetched.append(FetchedArchive(archive, listed, listed_publication(listed, files_xml)))
        return fetched


@dataclass(frozen=True)
class ArchiveOrgItem:
    """One site of an archive.org item, e.g. item `stackexchange_20250930`; with no item,
    the newest release that holds the site."""

    site: str
    item: str
    base_url: str

    @cached_property
    def _resolved(self) -> tuple[str, dict[str, ArchiveFile], list[str]]:
        """The item, its listing, and the site's archives in it."""
        for item in [self.item] if self.item else release_items(self.base_url):
            listing = fetch_files_xml(self.base_url, item)
            names = self._archive_names(listing)
            if names:
                return item, listing, names
            if self.item:
                break
        where = f"archive.org item {self.item!r}" if self.item else "no archive.org release"
        raise FileNotFoundError(
            f"{where} lists an archive for site {self.site!r} (`lake releases` lists them)"
        )

    def _archive_names(self, listing: dict[str, ArchiveFile]) -> list[str]:
        if f"{self.site}.7z" in listing:
            return [f"{self.site}.7z"]
        per_table = [f"{self.site}-{name.removesuffix('.xml')}.7z" for name in DUMP_TABLES]
        return [name for name in per_table if name in listing]

    def listed(self) -> list[ArchiveFile]:
        _, listing, names = self._resolved
        return [listing[name] for name in names]

    def fetch(self, downloads: Path) -> list[FetchedArchive]:
        item, listing, names = self._resolved
        day = release_date(item)
        return [
            FetchedArchive(
                download(f"{self.base_url}/{item}/{name}", listing[name], downloads / name),
                listing[name],
                Publication(day, f"archive.org item {item}")
                if day
                else listed_publication(listing[name], f"{item}_files.xml"),
            )
            for name in names
        ]


@dataclass(frozen=True)
class GeneratedSample:
    """The project's own sample dump, packed once and reused (it is deterministic)."""

    spec: SampleSpec
    cache_dir: Path

    @property
    def site(self) -> str:
        return self.spec.site

    def fetch(self, downloads: Path) -> list[FetchedArchive]:
        archive = self.cache_dir / f"{self.spec.site}.7z"
        if not archive.exists():
            pack_sample_dump(self.spec, self.cache_dir / "xml", archive)
        return [FetchedArchive(archive, None, Publication(self.spec.dump_date, "sample spec"))]

    def listed(self) -> None:
        return None


def source_for(
    dump: str | None, site: str | None, *, item: str, base_url: str, sample_dir: Path
) -> DumpSource:
    """Pick the source a user asked for: DUMP=<url or path>, SITE=<name>, or the sample."""
    if dump and urlparse(dump).scheme in ("http", "https"):
        parts = urlparse(dump).path.rstrip("/").split("/")
        if len(parts) < 3 or not parts[-1].endswith(".7z"):
            raise ValueError(f"DUMP={dump!r}: expected .../download/<item>/<site>.7z")
        root = dump[: dump.rindex("/" + parts[-2] + "/")]
        return ArchiveOrgItem(site_of_archive(parts[-1]), parts[-2], root)
    if dump:
        return LocalArchive(Path(dump).expanduser())
    if site:
        return ArchiveOrgItem(site, item, base_url)
    return GeneratedSample(SampleSpec(), sample_dir)


SAMPLE = "sample"


def source_for_entry(entry: str, *, item: str, base_url: str, sample_dir: Path) -> DumpSource:
    """One entry of a configured dump list: `sample`, a site name, a URL or a path."""
    entry = entry.strip()
    if entry == SAMPLE:
        return source_for(None, None, item=item, base_url=base_url, sample_dir=sample_dir)
    if "/" in entry or entry.endswith(".7z"):
        return source_for(entry, None, item=item, base_url=base_url, sample_dir=sample_dir)
    return source_for(None, entry, item=item, base_url=base_url, sample_dir=sample_dir)
