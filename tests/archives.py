"""Building test archives, hostile ones included (py7zr refuses to write bad names,
so those are patched in afterwards with the header checksums fixed)."""

import struct
import zlib
from pathlib import Path

import py7zr


def pack(archive: Path, members: dict[str, bytes]) -> Path:
    with py7zr.SevenZipFile(archive, "w") as packed:
        packed.set_encoded_header_mode(False)
        for name, data in members.items():
            packed.writestr(data, name)
    return archive


def rename_member(archive: Path, old: str, new: str) -> None:
    """Rewrite a member name of the same length in a plain 7z header."""
    data = bytearray(archive.read_bytes())
    old_bytes, new_bytes = old.encode("utf-16-le"), new.encode("utf-16-le")
    assert len(old_bytes) == len(new_bytes) and data.count(old_bytes) == 1
    at = data.index(old_bytes)
    data[at : at + len(old_bytes)] = new_bytes
    offset, size = struct.unpack("<QQ", data[12:28])
    data[28:32] = struct.pack("<I", zlib.crc32(data[32 + offset : 32 + offset + size]))
    data[8:12] = struct.pack("<I", zlib.crc32(data[12:32]))
    archive.write_bytes(bytes(data))


def files_xml(entries: dict[str, bytes], mtime: int = 1_700_000_000) -> str:
    """An archive.org `_files.xml` for the given file contents."""
    import hashlib

    rows = "".join(
        f'<file name="{name}" source="original"><format>7z</format><mtime>{mtime}</mtime>'
        f"<size>{len(data)}</size><md5>{hashlib.md5(data).hexdigest()}</md5>"
        f"<crc32>{zlib.crc32(data):08x}</crc32><sha1>{hashlib.sha1(data).hexdigest()}</sha1></file>"
        for name, data in entries.items()
    )
    return f'<?xml version="1.0" encoding="UTF-8"?><files>{rows}</files>'
