"""Check an extracted XML file's structure before it enters the lake, and count its rows.

A file must open with the table's root element and close it on its last line; anything
else (a truncated file, a cut last row, a DOCTYPE or entity declaration) is refused.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from lakehouse.schemas import DumpTable

BOM = b"\xef\xbb\xbf"


class BadXmlFile(ValueError):
    pass


@dataclass(frozen=True)
class XmlFileFacts:
    file_name: str
    rows: int
    bytes: int
    sha1: str


def inspect_xml(path: Path, table: DumpTable) -> XmlFileFacts:
    """Return the file's row count, size and sha1, or raise BadXmlFile naming the line."""
    root_open, root_close = f"<{table.root}>".encode(), f"</{table.root}>".encode()
    sha1 = hashlib.sha1(usedforsecurity=False)
    rows = size = line_number = 0
    opened = closed = False
    with path.open("rb") as stream:
        for line_number, raw in enumerate(stream, start=1):  # noqa: B007
            sha1.update(raw)
            size += len(raw)
            line = raw.strip()
            if line_number == 1:
                line = line.removeprefix(BOM).strip()
            if not line:
                continue
            if closed:
                raise BadXmlFile(
                    f"{path.name}, line {line_number}: content after {root_close.decode()}"
                )
            if line.startswith(b"<row"):
                if not opened:
                    raise BadXmlFile(f"{path.name}, line {line_number}: row before <{table.root}>")
                rows += 1
            elif line.startswith((b"<!DOCTYPE", b"<!ENTITY")):
                raise BadXmlFile(
                    f"{path.name}, line {line_number}: DOCTYPE or ENTITY declarations are "
                    "not allowed in a dump file"
                )
            elif line.startswith(b"<?xml") and not opened:
                continue
            elif line == root_open and not opened:
                opened = True
            elif line == root_close and opened:
                closed = True
            elif not opened:
                raise BadXmlFile(
                    f"{path.name}, line {line_number}: expected <{table.root}>, "
                    f"found {line[:60].decode(errors='replace')!r}"
                )
    if not closed:
        raise BadXmlFile(
            f"{path.name}: truncated; no closing {root_close.decode()} after line {line_number} "
            "(the last row may be cut)"
        )
    return XmlFileFacts(path.name, rows, size, sha1.hexdigest())
