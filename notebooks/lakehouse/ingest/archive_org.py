"""Download from an archive.org item: verified against `<item>_files.xml`, resumable.

The file appears under its final name only once its size, md5 and sha1 match.
"""

import hashlib
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from defusedxml.ElementTree import fromstring as safe_fromstring

from lakehouse.ingest.progress import byte_progress

CHUNK = 1 << 20


class ChecksumMismatch(RuntimeError):
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


def fetch_files_xml(base_url: str, item: str) -> dict[str, ArchiveFile]:
    url = f"{base_url}/{item}/{item}_files.xml"
    with urllib.request.urlopen(url, timeout=60) as response:
        return parse_files_xml(response.read(), source=url)


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
