"""Download from an archive.org item: verified against `<item>_files.xml`, resumable.

The file appears under its final name only once its size, md5 and sha1 match. Since
2024 the dumps come as one item per quarterly release (`stackexchange_20250630`); the
old `stackexchange` item was last refreshed in 2024-04. `release_items` finds them with
archive.org's search API, newest first.
"""

import hashlib
import json
import re
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from defusedxml.ElementTree import fromstring as safe_fromstring

from worker.ingest.progress import byte_progress

CHUNK = 1 << 20
LEGACY_ITEM = "stackexchange"
_RELEASE_ITEM = re.compile(r"^stackexchange_(\d{8})$")


class ChecksumMismatch(RuntimeError):
    pass


class ArchiveOrgUnreachable(ConnectionError):
    pass


@dataclass(frozen=True)
class ArchiveFile:
    name: str
    size: int
    md5: str
    sha1: str
    mtime: int | None


def parse_files_xml(text: str | bytes, source: str = "_files.xml") -> dict[str, ArchiveFile]:
    """The original files an archive.org `_files.xml` lists, by name."""
    try:
        root = safe_fromstring(text)
    except ET.ParseError as error:
        raise ValueError(f"{source} is not valid XML: {error}") from None
    files = {}
    for entry in root.iter("file"):
        name = entry.get("name")
        size, md5, sha1 = (entry.findtext(tag) for tag in ("size", "md5", "sha1"))
        if not (name and size and md5 and sha1):
            continue
        mtime = entry.findtext("mtime")
        files[name] = ArchiveFile(name, int(size), md5, sha1, int(mtime) if mtime else None)
    return files


def file_hashes(path: Path) -> tuple[str, str]:
    """(md5, sha1) of a file, read once."""
    md5, sha1 = hashlib.md5(usedforsecurity=False), hashlib.sha1(usedforsecurity=False)
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            md5.update(chunk)
            sha1.update(chunk)
    return md5.hexdigest(), sha1.hexdigest()


def verify(path: Path, expected: ArchiveFile) -> None:
    """Raise ChecksumMismatch, naming the archive, unless size, md5 and sha1 all match."""
    size = path.stat().st_size
    if size != expected.size:
        raise ChecksumMismatch(
            f"{expected.name}: size {size} bytes, _files.xml says {expected.size}"
        )
    md5, sha1 = file_hashes(path)
    if md5 != expected.md5 or sha1 != expected.sha1:
        raise ChecksumMismatch(
            f"{expected.name}: md5 {md5} / sha1 {sha1} do not match _files.xml "
            f"(md5 {expected.md5} / sha1 {expected.sha1})"
        )


def _get(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        raise FileNotFoundError(f"{url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, TimeoutError) as error:
        reason = getattr(error, "reason", error)
        raise ArchiveOrgUnreachable(
            f"archive.org is unreachable ({url}: {reason}); check the network, or load an "
            "archive you have with DUMP=<path>.7z"
        ) from None


def fetch_files_xml(base_url: str, item: str) -> dict[str, ArchiveFile]:
    url = f"{base_url}/{item}/{item}_files.xml"
    return parse_files_xml(_get(url), source=url)


def release_date(item: str) -> datetime | None:
    """The date in a release item's name: stackexchange_20250630 -> 2025-06-30."""
    match = _RELEASE_ITEM.match(item)
    return datetime.strptime(match[1], "%Y%m%d").replace(tzinfo=UTC) if match else None


def search_url(base_url: str) -> str:
    """archive.org's search API beside its downloads (`<origin>/advancedsearch.php`)."""
    origin = base_url.rstrip("/").removesuffix("/download")
    query = {
        "q": "identifier:stackexchange_*",
        "fl[]": "identifier",
        "rows": 1000,
        "output": "json",
    }
    return f"{origin}/advancedsearch.php?{urlencode(query)}"


def release_items(base_url: str) -> list[str]:
    """The release items, newest first, then the legacy `stackexchange` item."""
    url = search_url(base_url)
    try:
        docs = json.loads(_get(url))["response"]["docs"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{url}: not an archive.org search answer ({error})") from None
    dated = [(release_date(d.get("identifier", "")), d.get("identifier")) for d in docs]
    newest_first = sorted(((day, item) for day, item in dated if day), reverse=True)
    return [item for _, item in newest_first] + [LEGACY_ITEM]


def download(url: str, expected: ArchiveFile, destination: Path) -> Path:
    """Download `url` to `destination`, resuming a `.part` file; verify before renaming."""
    if destination.exists():
        verify(destination, expected)
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    have = partial.stat().st_size if partial.exists() else 0
    if have > expected.size:
        partial.unlink()
        have = 0
    if have < expected.size:
        request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
        with urllib.request.urlopen(request, timeout=60) as response:
            if have and response.status != 206:  # The server ignored Range: start over.
                have = 0
            with (
                partial.open("ab" if have else "wb") as out,
                byte_progress(f"download {destination.name}", expected.size, have) as advance,
            ):
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    advance(len(chunk))
    try:
        verify(partial, expected)
    except ChecksumMismatch:
        partial.unlink()
        raise
    partial.replace(destination)
    return destination
