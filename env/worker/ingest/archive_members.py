"""Stream a dump archive's table files out of it, member by member, never to disk.

Archives are untrusted. Their listing is checked before any byte is decoded: only
allow-listed table names are read; a path, a symbolic link or a directory among them
stops the ingest, and so does a declared size over the limit. Nothing is extracted to
the file system, so no member can land anywhere. A member's bytes go to the sink that
`open_sink` gives for it; a sink sees `close()` only once all of its bytes arrived.

Two decoders sit behind `stream_members`, and both were measured (BENCHMARKS.md,
"Decoders"): Debian's 7-Zip (`7zz`), when it is installed, and py7zr otherwise.
"""

import lzma
import queue
import shutil
import subprocess
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

import py7zr
from py7zr.exceptions import ArchiveError, Bad7zFile, CrcError
from py7zr.io import Py7zIO, WriterFactory

from lakehouse.schemas import DUMP_TABLES

SEVEN_ZIP = "7zz"
CHUNK = 1 << 20
# What py7zr lets through from a damaged archive, besides its own errors.
UNREADABLE = (Bad7zFile, CrcError, ArchiveError, EOFError, OSError, lzma.LZMAError, zlib.error)


class UnsafeArchive(RuntimeError):
    """An archive that is hostile, damaged or cut; the message names it, and the member
    and byte where one is known."""


@dataclass(frozen=True)
class Member:
    name: str
    size: int  # as the archive's header declares it


class MemberSink(Protocol):
    def write(self, data: bytes) -> None: ...

    def close(self) -> None:
        """All of the member's bytes have arrived."""


def _is_table(archive: Path, info) -> bool:
    """True when the member is an allow-listed table file; raise when it is hostile."""
    name = info.filename
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        raise UnsafeArchive(f"{archive.name}: member {name!r} escapes the extraction folder")
    if getattr(info, "is_symlink", False):
        raise UnsafeArchive(f"{archive.name}: member {name!r} is a symbolic link")
    if name not in DUMP_TABLES:
        return False
    if info.is_directory:
        raise UnsafeArchive(f"{archive.name}: member {name!r} is a directory, not a file")
    return True


def table_members(archive: Path, max_bytes: int) -> list[Member]:
    """The archive's table files in its own order, from its header alone; raise
    UnsafeArchive for a hostile one or for more than `max_bytes` (LAKE_MAX_EXTRACT_BYTES)."""
    try:
        with py7zr.SevenZipFile(archive, "r") as packed:
            listing = packed.list()
    except UNREADABLE as error:
        raise UnsafeArchive(f"{archive.name}: corrupt or unreadable archive ({error})") from None
    members = [
        Member(info.filename, info.uncompressed or 0)
        for info in listing
        if _is_table(archive, info)
    ]
    # Decoding a solid archive walks every member, so every member counts.
    declared = sum(info.uncompressed or 0 for info in listing)
    if declared > max_bytes:
        raise UnsafeArchive(
            f"{archive.name}: members declare {declared} bytes, over the limit of "
            f"{max_bytes} (raise it with the setting LAKE_MAX_EXTRACT_BYTES)"
        )
    return members


def stream_members(
    archive: Path,
    members: list[Member],
    open_sink: Callable[[Member], MemberSink],
    decoder: str = "auto",
) -> None:
    """Decode `members` (from `table_members`) into their sinks; `decoder` is `7zz`,
    `py7zr`, or `auto` for 7-Zip where it is installed."""
    if decoder == "auto":
        decoder = SEVEN_ZIP if shutil.which(SEVEN_ZIP) else "py7zr"
    stream = _seven_zip_stream if decoder == SEVEN_ZIP else _py7zr_stream
    stream(archive, members, open_sink)


class _MemberBytes:
    """Hands each member's bytes to its sink, and knows where in the member it is."""

    sink: MemberSink | None

    def __init__(self, archive: Path, members: list[Member], open_sink) -> None:
        self.archive, self.members, self.open_sink = archive, list(members), open_sink
        self.index, self.offset, self.sink = 0, 0, None

    def feed(self, data: bytes) -> None:
        """Bytes of the members back to back, in the archive's order (7-Zip's output)."""
        while data:
            self.skip_empty()
            if self.index >= len(self.members):
                raise UnsafeArchive(f"{self.archive.name}: more bytes than its header declares")
            member = self.members[self.index]
            if self.sink is None:
                self.sink = self.open_sink(member)
            take = data[: member.size - self.offset]
            self.sink.write(take)
            self.offset += len(take)
            data = data[len(take) :]
            if self.offset == member.size:
                self.end_member()

    def end_member(self) -> None:
        member = self.members[self.index]
        if self.sink is None:  # an empty member: no bytes came for it
            self.sink = self.open_sink(member)
        self.sink.close()
        self.index, self.offset, self.sink = self.index + 1, 0, None

    def skip_empty(self) -> None:
        """Close the empty members next in line: no byte ever arrives for them."""
        while self.index < len(self.members) and self.members[self.index].size == 0:
            self.end_member()

    @property
    def done(self) -> bool:
        self.skip_empty()
        return self.index == len(self.members)

    def cut(self, reason: str) -> UnsafeArchive:
        """The error for an archive that ended or broke where this stream stands."""
        if self.index >= len(self.members):
            return UnsafeArchive(f"{self.archive.name}: corrupt or unreadable archive ({reason})")
        member = self.members[self.index]
        return UnsafeArchive(
            f"{self.archive.name}: {member.name} is cut or corrupt at byte {self.offset:,} "
            f"of {member.size:,} ({reason})"
        )


def _seven_zip_stream(archive: Path, members: list[Member], open_sink) -> None:
    """`7zz x -so`: the requested members to standard output, back to back."""
    if not members:
        return
    names = [member.name for member in members]
    command = [SEVEN_ZIP, "x", "-so", "-bd", "-bb0", "-y", "--", str(archive), *names]
    stream = _MemberBytes(archive, members, open_sink)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        try:
            for chunk in _read_ahead(process.stdout):
                stream.feed(chunk)
        except BaseException:
            process.kill()
            raise
        assert process.stderr is not None  # stderr=PIPE
        problem = process.stderr.read().decode("utf-8", "replace")
    if process.returncode != 0 or not stream.done:
        lines = [line.strip() for line in problem.splitlines() if line.strip()]
        reason = "; ".join(lines[-2:]) or f"7zz exited with {process.returncode}"
        raise stream.cut(reason)


def _read_ahead(pipe, chunks: int = 16) -> Iterator[bytes]:
    """The pipe's bytes, read by a thread of their own up to `chunks` MB ahead: the pipe
    holds 64 KB, so without it 7-Zip would wait while Python checks, and the reverse."""
    ready: queue.Queue[bytes | BaseException | None] = queue.Queue(chunks)
    stopped = threading.Event()

    def hand_over(item: bytes | BaseException | None) -> None:
        while not stopped.is_set():
            try:
                ready.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def read() -> None:
        try:
            while chunk := pipe.read(CHUNK):
                hand_over(chunk)
            hand_over(None)
        except BaseException as error:  # handed over, raised in the consumer
            hand_over(error)

    threading.Thread(target=read, daemon=True, name="7zz-reader").start()
    try:
        while (item := ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stopped.set()  # a consumer that stopped early frees the reader


class _SinkWriter(Py7zIO):
    """What py7zr writes a member into: the member's sink."""

    def __init__(self, stream: _MemberBytes) -> None:
        self.stream = stream
        self.written = 0

    def write(self, data: bytes | bytearray) -> int:
        self.stream.feed(bytes(data))
        self.written += len(data)
        return len(data)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.written

    def flush(self) -> None:
        pass

    def size(self) -> int:
        return self.written


class _SinkFactory(WriterFactory):
    def __init__(self, stream: _MemberBytes) -> None:
        self.stream = stream

    def create(self, filename: str) -> Py7zIO:
        return _SinkWriter(self.stream)


def _py7zr_stream(archive: Path, members: list[Member], open_sink) -> None:
    stream = _MemberBytes(archive, members, open_sink)
    try:
        # No max_extract_size: `table_members` bounded the declared sizes, and a member
        # that outgrows its declared size is refused as its bytes arrive.
        with py7zr.SevenZipFile(archive, "r") as packed:
            packed.extract(
                targets=[member.name for member in members], factory=_SinkFactory(stream)
            )
    except UNREADABLE as error:
        raise stream.cut(str(error) or type(error).__name__) from None
    if not stream.done:
        raise stream.cut("the archive ended early")
