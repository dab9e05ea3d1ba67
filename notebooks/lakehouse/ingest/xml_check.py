"""Check an extracted XML file's structure before it enters the lake, and count its rows.

A file must open with the table's root element and close it on its last line; anything
else (a truncated file, a cut last row, a DOCTYPE or entity declaration) is refused.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from lakehouse.schemas import DumpTable
from lakehouse.xml_rows import BOM, FORBIDDEN, PROLOG, ROOT_CLOSE, ROOT_OPEN, ROW, classify


class BadXmlFile(ValueError):
    pass


@dataclass(frozen=True)
class XmlFileFacts:
    file_name: str
    rows: int
    bytes: int
    sha1: str


def inspect_xml(path: Path, table: DumpTable) -> XmlFileFacts:
    """Return the file's row count, size and sha1, or raise BadXmlFile naming the line.

    Lines are classified exactly as bronze classifies them, so the row count here is
    the number of row lines bronze must account for (stored or rejected).
    """
    sha1 = hashlib.sha1(usedforsecurity=False)
    rows = size = line_number = 0
    opened = closed = False
    with path.open("rb") as stream:
        for line_number, raw in enumerate(stream, start=1):  # noqa: B007
            sha1.update(raw)
            size += len(raw)
            # Row lines are nearly all lines: classify's ROW rule, tested on bytes, keeps
            # this at disk speed; only the few other lines are decoded.
            stripped = raw.strip()
            if stripped.startswith(b"<row"):
                kind = ROW
            else:
                kind = classify(stripped.decode("utf-8", "replace").lstrip(BOM).strip(), table.root)
            if kind is None:
                continue
            where = f"{path.name}, line {line_number}"
            if closed:
                raise BadXmlFile(f"{where}: content after </{table.root}>")
            if kind == FORBIDDEN:
                raise BadXmlFile(
                    f"{where}: DOCTYPE or ENTITY declarations are not allowed in a dump file"
                )
            if kind == PROLOG and not opened:
                continue
            if kind == ROOT_OPEN and not opened:
                opened = True
            elif kind == ROOT_CLOSE and opened:
                closed = True
            elif not opened:
                found = stripped[:60].decode("utf-8", "replace")
                raise BadXmlFile(f"{where}: expected <{table.root}>, found {found!r}")
            else:  # A row, or a line bronze will reject with its reason.
                rows += 1
    if not closed:
        raise BadXmlFile(
            f"{path.name}: truncated; no closing </{table.root}> after line {line_number} "
            "(the last row may be cut)"
        )
    return XmlFileFacts(path.name, rows, size, sha1.hexdigest())
