"""Check an extracted XML file's structure before it enters the lake, and count its rows.

A file must open with the table's root element and close it on its last line; anything
else (a truncated file, a cut last row, a DOCTYPE or entity declaration) is refused.
Comments and processing instructions outside the rows are allowed anywhere.

Bronze reads UTF-8 lines, so a file is normalised first where it needs it: UTF-16 is
transcoded to UTF-8, and a comment that spans lines is dropped. The facts record the
encoding the file came in.
"""

import codecs
import dataclasses
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingest.row_ids import DuplicateIds
from lakehouse.bronze.xml_rows import (
    BOM,
    FORBIDDEN,
    MARKUP,
    PROLOG,
    ROOT_CLOSE,
    ROOT_OPEN,
    ROW,
    classify,
)
from lakehouse.schemas import DumpTable

UTF8, UTF16_LE, UTF16_BE = "UTF-8", "UTF-16LE", "UTF-16BE"
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "UTF-32LE"),  # before UTF-16 LE, whose mark it starts with
    (codecs.BOM_UTF32_BE, "UTF-32BE"),
    (codecs.BOM_UTF8, UTF8),
    (codecs.BOM_UTF16_LE, UTF16_LE),
    (codecs.BOM_UTF16_BE, UTF16_BE),
)
# `<?` in UTF-16 without a byte-order mark.
UNMARKED_UTF16 = ((b"<\x00?\x00", UTF16_LE), (b"\x00<\x00?", UTF16_BE))
_DECLARED = re.compile(rb"""^<\?xml[^>]*\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
LIKELY_CAUSES = "a truncated or corrupt file, an unknown encoding, or a new dump format"


class BadXmlFile(ValueError):
    pass


@dataclass(frozen=True)
class XmlFileFacts:
    file_name: str
    rows: int
    bytes: int
    sha1: str
    encoding: str = "UTF-8"  # as the file came, e.g. "UTF-16LE with BOM"
    # Id -> row lines carrying it, for Ids on several lines; None when not certain.
    duplicated_ids: dict[int, int] | None = None


def sniff_encoding(path: Path) -> tuple[str, bool]:
    """The file's encoding and whether it has a byte-order mark; raise BadXmlFile for an
    encoding the dumps are never in."""
    with path.open("rb") as stream:
        head = stream.read(256)
    for mark, encoding in BYTE_ORDER_MARKS:
        if head.startswith(mark):
            if encoding.startswith("UTF-32"):
                raise BadXmlFile(_unsupported(path, encoding, "its byte-order mark"))
            return encoding, True
    for start, encoding in UNMARKED_UTF16:
        if head.startswith(start):
            return encoding, False
    declared = _DECLARED.match(head)
    name = declared[1].decode("ascii") if declared else "utf-8"
    if name.lower().startswith("utf-16"):
        raise BadXmlFile(
            f"{path.name}, line 1: declares {name} but its bytes are not UTF-16 "
            f"(likely cause: {LIKELY_CAUSES})"
        )
    if name.lower() not in ("utf-8", "utf8"):
        raise BadXmlFile(_unsupported(path, name, "line 1"))
    return UTF8, False


def _unsupported(path: Path, encoding: str, where: str) -> str:
    return (
        f"{path.name}: encoding {encoding} (from {where}); dump files are UTF-8 or UTF-16, "
        "so re-export it as UTF-8 or check that it is a dump file"
    )


def _transcode_to_utf8(path: Path, encoding: str, has_bom: bool) -> None:
    """Rewrite a UTF-16 file as UTF-8, line ends kept, its declaration corrected."""
    codec = "utf-16" if has_bom else encoding.lower().replace("utf-16", "utf-16-")
    target = path.with_name(path.name + ".utf8")
    try:
        with (
            path.open("r", encoding=codec, newline="") as source,
            target.open("w", encoding="utf-8", newline="") as out,
        ):
            for number, line in enumerate(source, start=1):
                if number == 1:
                    line = re.sub(
                        r"""encoding\s*=\s*["']utf-16(le|be)?["']""",
                        'encoding="utf-8"',
                        line.lstrip(BOM),
                        flags=re.IGNORECASE,
                    )
                out.write(line)
    except UnicodeError as error:
        target.unlink(missing_ok=True)
        raise BadXmlFile(f"{path.name}: not valid {encoding} ({error})") from None
    target.replace(path)


def _drop_comment_lines(path: Path, comment_lines: set[int]) -> None:
    """Rewrite the file without the lines of comments that span several lines."""
    target = path.with_name(path.name + ".nocomments")
    with path.open("rb") as source, target.open("wb") as out:
        for number, raw in enumerate(source, start=1):
            if number not in comment_lines:
                out.write(raw)
    target.replace(path)


def inspect_xml(path: Path, table: DumpTable) -> XmlFileFacts:
    """Normalise the file where needed, then return its row count, size, sha1 and original
    encoding, or raise BadXmlFile naming the line."""
    encoding, has_bom = sniff_encoding(path)
    if encoding != UTF8:
        _transcode_to_utf8(path, encoding, has_bom)
    comment_lines = _multiline_comments(path)
    if comment_lines:
        _drop_comment_lines(path, comment_lines)
    facts = _check_structure(path, table)
    described = f"{encoding} with BOM" if has_bom else encoding
    return dataclasses.replace(facts, encoding=described)


def _multiline_comments(path: Path) -> set[int]:
    """The numbers of lines that belong to a comment spanning several lines."""
    lines: set[int] = set()
    start = None
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            if start is None:
                stripped = raw.strip().removeprefix(codecs.BOM_UTF8)
                if stripped.startswith(b"<!--") and b"-->" not in stripped:
                    start = number
            elif b"-->" in raw:
                lines.update(range(start, number + 1))
                start = None
    return lines


def _check_structure(path: Path, table: DumpTable) -> XmlFileFacts:
    """Lines are classified exactly as bronze classifies them, so the row count here is
    the number of row lines bronze must account for (stored or rejected)."""
    sha1 = hashlib.sha1(usedforsecurity=False)
    rows = size = line_number = 0
    opened = closed = False
    duplicates = DuplicateIds()
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
            if kind is None or kind == MARKUP:
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
                raise BadXmlFile(
                    f"{where}: expected <{table.root}>, found {found!r} "
                    f"(likely cause: {LIKELY_CAUSES})"
                )
            else:  # A row, or a line bronze will reject with its reason.
                rows += 1
                if kind == ROW:
                    duplicates.add(stripped)
    if not closed:
        raise BadXmlFile(
            f"{path.name}: truncated; no closing </{table.root}> after line {line_number} "
            "(the last row may be cut)"
        )
    return XmlFileFacts(path.name, rows, size, sha1.hexdigest(), UTF8, duplicates.duplicated())


_CREATION_DATE = re.compile(rb'\bCreationDate="(\d{4}-\d\d-\d\dT[0-9:.]+)"')


def newest_creation_date(path: Path) -> datetime | None:
    """The latest CreationDate of the file's rows: a dump holds nothing newer than the
    day it was made, so this dates a dump that no listing dates."""
    newest = b""
    with path.open("rb") as stream:
        for line in stream:
            for found in _CREATION_DATE.findall(line):
                newest = max(newest, found)
    return datetime.fromisoformat(newest.decode()).replace(tzinfo=UTC) if newest else None
