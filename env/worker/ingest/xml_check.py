"""Check a dump file's structure as its bytes stream past, before it enters the lake, and
count its rows.

A file must open with the table's root element and close it on its last line; anything
else (a truncated file, a cut last row, a DOCTYPE or entity declaration) is refused.
Comments and processing instructions outside the rows are allowed anywhere.

Bronze reads UTF-8 lines, so the stream is normalised on its way where it needs it:
UTF-16 is transcoded to UTF-8, and a comment that spans lines is dropped. The facts
record the encoding the file came in. Memory stays flat: a line at a time, plus one
output buffer.
"""

import codecs
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

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
from lakehouse.schemas import ROW_TIME, DumpTable
from worker.ingest.row_ids import DuplicateIds

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


ParquetFile = bytes  # (a name of its own: the facts have a field called `bytes`)


@dataclass(frozen=True)
class XmlFileFacts:
    file_name: str
    rows: int
    bytes: int
    sha1: str
    encoding: str = "UTF-8"  # as the file came, e.g. "UTF-16LE with BOM"
    # Id -> row lines carrying it, for Ids on several lines; None when not certain.
    duplicated_ids: dict[int, int] | None = None
    newest_time: datetime | None = None  # the latest of its rows' dates (any `...Date`)
    normalised: bool = False  # transcoded, or comment lines dropped
    # Every row line's Id, each once, as Parquet (DuplicateIds.ids_parquet); None when
    # `duplicated_ids` is.
    row_ids: ParquetFile | None = field(default=None, repr=False)


SNIFF_BYTES = 256
OUTPUT_BUFFER = 1 << 20
# A comment over several lines is held until it ends; past this it is kept as lines.
MAX_COMMENT_BYTES = 1 << 20
# For whole blocks of row lines at once: each line preceded by its "\n". Literal starts
# let the regular expressions skip ahead instead of trying every byte.
ROW_LINE_START = b"\n  <row "
_ROW_ID = re.compile(rb'\n  <row Id="(-?\d{1,10})"')


def sniff_encoding(head: bytes, file_name: str) -> tuple[str, bool]:
    """The encoding of a file that starts with `head`, and whether it has a byte-order
    mark; raise BadXmlFile for an encoding the dumps are never in."""
    for mark, encoding in BYTE_ORDER_MARKS:
        if head.startswith(mark):
            if encoding.startswith("UTF-32"):
                raise BadXmlFile(_unsupported(file_name, encoding, "its byte-order mark"))
            return encoding, True
    for start, encoding in UNMARKED_UTF16:
        if head.startswith(start):
            return encoding, False
    declared = _DECLARED.match(head)
    name = declared[1].decode("ascii") if declared else "utf-8"
    if name.lower().startswith("utf-16"):
        raise BadXmlFile(
            f"{file_name}, line 1: declares {name} but its bytes are not UTF-16 "
            f"(likely cause: {LIKELY_CAUSES})"
        )
    if name.lower() not in ("utf-8", "utf8"):
        raise BadXmlFile(_unsupported(file_name, name, "line 1"))
    return UTF8, False


def _unsupported(file_name: str, encoding: str, where: str) -> str:
    return (
        f"{file_name}: encoding {encoding} (from {where}); dump files are UTF-8 or UTF-16, "
        "so re-export it as UTF-8 or check that it is a dump file"
    )


class XmlStreamCheck:
    """Takes a file's bytes in chunks of any size, passes them on to `out` normalised
    (see the module's docstring), and at `close()` returns the facts or raises
    BadXmlFile naming the line. `progress(bytes, rows)` is called every
    `progress_seconds` for a long file. With `date_rows`, the facts give the newest
    date of any of its rows."""

    def __init__(
        self,
        file_name: str,
        table: DumpTable,
        out: Callable[[bytes], None] = lambda data: None,
        progress: Callable[[int, int], None] | None = None,
        progress_seconds: float = 30.0,
        date_rows: bool = False,
    ) -> None:
        self.file_name, self.table, self.out = file_name, table, out
        self.progress, self.progress_seconds = progress, progress_seconds
        self.last_progress = time.monotonic()
        self.head = b""  # the first bytes, until the encoding is known
        self.encoding: str | None = None
        self.has_bom = False
        self.decoder: codecs.IncrementalDecoder | None = None  # for UTF-16
        self.partial = b""  # the start of a line whose end has not come yet
        self.comment: list[bytes] | None = None  # lines of a comment not yet closed
        self.comment_bytes = 0
        self.dropped_comment_lines = False
        self.line_number = 0
        self.rows = self.size = 0
        self.opened = self.closed = False
        self.sha1 = hashlib.sha1(usedforsecurity=False)
        self.buffer = bytearray()
        self.duplicates = DuplicateIds()
        self.newest_time = b""
        # Only a dump that nothing else dates needs its newest row (see ingest_dump).
        self.dated = date_rows

    def write(self, data: bytes) -> None:
        """The file's next bytes."""
        if self.encoding is None:
            self.head += data
            if len(self.head) < SNIFF_BYTES:
                return
            data, self.head = self.head, b""
            self._start(data)
        if self.decoder is not None:
            data = self._to_utf8(data, final=False)
        self._lines(data)
        if self.progress and time.monotonic() - self.last_progress > self.progress_seconds:
            self.last_progress = time.monotonic()
            self.progress(self.size, self.rows)

    def _start(self, head: bytes) -> None:
        self.encoding, self.has_bom = sniff_encoding(head, self.file_name)
        if self.encoding != UTF8:
            codec = "utf-16" if self.has_bom else self.encoding.lower().replace("utf-16", "utf-16-")
            self.decoder = codecs.getincrementaldecoder(codec)()

    def _to_utf8(self, data: bytes, final: bool) -> bytes:
        assert self.decoder is not None  # only called once _start set it
        try:
            text = self.decoder.decode(data, final)
        except UnicodeError as error:
            raise BadXmlFile(f"{self.file_name}: not valid {self.encoding} ({error})") from None
        return text.encode("utf-8")

    def _lines(self, data: bytes) -> None:
        block = self.partial + data
        end = block.rfind(b"\n") + 1
        block, self.partial = block[:end], block[end:]
        if block and not self._whole_block(block):
            for line in block.split(b"\n")[:-1]:
                self._line(line + b"\n")

    def _whole_block(self, block: bytes) -> bool:
        """Check complete lines in one go, as `_line` would one by one, when every one is
        a row line indented as the published dumps indent them (two spaces), inside the
        root element: nearly every block of a dump. Return False, having done nothing,
        for any other block; `_line` then takes it."""
        if not self.opened or self.closed or self.comment is not None:
            return False
        lines = block.count(b"\n")
        body = b"\n" + block[:-1]  # each line now starts with "\n"
        if body.count(ROW_LINE_START) != lines:
            return False
        ids = _ROW_ID.findall(body)
        if len(ids) == lines:
            self.duplicates.add_plain_ids(ids)
        else:
            self.duplicates.certain = False
        if self.dated:
            self.newest_time = max([self.newest_time, *ROW_TIME.findall(body)])
        self.rows += lines
        self.line_number += lines
        self._emit(block)
        return True

    def _line(self, raw: bytes) -> None:
        self.line_number += 1
        if self.line_number == 1 and self.decoder is not None:
            raw = self._declare_utf8(raw)
        if self.comment is not None:
            self._comment_line(raw)
            return
        stripped = raw.strip()
        kind: str | None
        if stripped.startswith(b"<row"):
            kind = ROW
        else:
            if stripped.startswith((b"<!--", codecs.BOM_UTF8 + b"<!--")) and b"-->" not in raw:
                self.comment, self.comment_bytes = [raw], len(raw)
                return
            kind = classify(
                stripped.decode("utf-8", "replace").lstrip(BOM).strip(), self.table.root
            )
        self._emit(raw)
        if kind is None or kind == MARKUP:
            return
        self._structure(kind, stripped)

    def _kind(self, stripped: bytes) -> str | None:
        """A line's kind by bronze's own rule (`classify`), for the few lines not rows."""
        return classify(stripped.decode("utf-8", "replace").lstrip(BOM).strip(), self.table.root)

    def _declare_utf8(self, first_line: bytes) -> bytes:
        """The first line of a transcoded file, its declaration saying UTF-8."""
        text = first_line.decode("utf-8").lstrip(BOM)
        text = re.sub(
            r"""encoding\s*=\s*["']utf-16(le|be)?["']""", 'encoding="utf-8"', text, flags=re.I
        )
        return text.encode("utf-8")

    def _comment_line(self, raw: bytes) -> None:
        """A line inside a comment that spans lines: held until the comment ends, then
        dropped; past MAX_COMMENT_BYTES it is not a comment to drop, and is checked."""
        assert self.comment is not None
        self.comment.append(raw)
        self.comment_bytes += len(raw)
        if b"-->" in raw:
            self.comment = None
            self.dropped_comment_lines = True
        elif self.comment_bytes > MAX_COMMENT_BYTES:
            self._release_comment()

    def _release_comment(self) -> None:
        held, self.comment = self.comment, None
        assert held is not None
        first = self.line_number - len(held) + 1
        for offset, raw in enumerate(held):
            stripped = raw.strip()
            self._emit(raw)
            kind = classify(
                stripped.decode("utf-8", "replace").lstrip(BOM).strip(), self.table.root
            )
            if kind is not None and kind != MARKUP:
                self._structure(kind, stripped, first + offset)

    def _structure(self, kind: str, stripped: bytes, line_number: int | None = None) -> None:
        """Lines are classified exactly as bronze classifies them, so the row count here
        is the number of row lines bronze must account for (stored or rejected)."""
        where = f"{self.file_name}, line {line_number or self.line_number}"
        if self.closed:
            raise BadXmlFile(f"{where}: content after </{self.table.root}>")
        if kind == FORBIDDEN:
            raise BadXmlFile(
                f"{where}: DOCTYPE or ENTITY declarations are not allowed in a dump file"
            )
        if kind == PROLOG and not self.opened:
            return
        if kind == ROOT_OPEN and not self.opened:
            self.opened = True
        elif kind == ROOT_CLOSE and self.opened:
            self.closed = True
        elif not self.opened:
            found = stripped[:60].decode("utf-8", "replace")
            raise BadXmlFile(
                f"{where}: expected <{self.table.root}>, found {found!r} "
                f"(likely cause: {LIKELY_CAUSES})"
            )
        else:  # A row, or a line bronze will reject with its reason.
            self.rows += 1
            if kind == ROW:
                self.duplicates.add(stripped)
                if self.dated:
                    self.newest_time = max([self.newest_time, *ROW_TIME.findall(stripped)])

    def _emit(self, raw: bytes) -> None:
        self.buffer += raw
        if len(self.buffer) >= OUTPUT_BUFFER:
            self._flush()

    def _flush(self) -> None:
        data = bytes(self.buffer)
        self.buffer.clear()
        self.sha1.update(data)
        self.size += len(data)
        self.out(data)

    def close(self) -> XmlFileFacts:
        """The file's facts, once its last byte has been written."""
        if self.encoding is None:
            head, self.head = self.head, b""
            self._start(head)
            self.write(head)
        if self.decoder is not None:
            self._lines(self._to_utf8(b"", final=True))
        if self.partial:
            last, self.partial = self.partial, b""
            self._line(last)
        if self.comment is not None:  # never closed: its lines are checked as they are
            self._release_comment()
        self._flush()
        if not self.closed:
            raise BadXmlFile(
                f"{self.file_name}: truncated; no closing </{self.table.root}> after line "
                f"{self.line_number} (the last row may be cut)"
            )
        assert self.encoding is not None  # set by _start
        described = f"{self.encoding} with BOM" if self.has_bom else self.encoding
        newest = self.newest_time
        return XmlFileFacts(
            file_name=self.file_name,
            rows=self.rows,
            bytes=self.size,
            sha1=self.sha1.hexdigest(),
            encoding=described,
            duplicated_ids=self.duplicates.duplicated(),
            row_ids=self.duplicates.ids_parquet(),
            newest_time=(
                datetime.fromisoformat(newest.decode()).replace(tzinfo=UTC) if newest else None
            ),
            normalised=self.decoder is not None or self.dropped_comment_lines,
        )


def inspect_xml(path: Path, table: DumpTable) -> XmlFileFacts:
    """Check a file on disk, normalising it in place where it needs it (see
    XmlStreamCheck); for files that did not come through ingest's stream."""
    facts = _check_file(path, table, lambda data: None)
    if facts.normalised:
        target = path.with_name(path.name + ".normalised")
        with target.open("wb") as out:
            facts = _check_file(path, table, cast(Callable[[bytes], None], out.write))
        target.replace(path)
    return facts


def _check_file(path: Path, table: DumpTable, out: Callable[[bytes], None]) -> XmlFileFacts:
    check = XmlStreamCheck(path.name, table, out, date_rows=True)
    with path.open("rb") as source:
        while chunk := source.read(OUTPUT_BUFFER):
            check.write(chunk)
    return check.close()
