"""Safe extraction of a dump archive: allow-listed names, a size limit, nothing else.

Archives are untrusted. Members outside the allow-list are not extracted; a path,
a symlink or a directory among the table names stops the extraction before any
file is written, and so does a declared size over the limit.
"""

import lzma
import shutil
import zlib
from pathlib import Path, PurePosixPath

import py7zr
from py7zr.exceptions import ArchiveError, Bad7zFile, CrcError, DecompressionBombError

from ingest.progress import byte_progress
from lakehouse.schemas import DUMP_TABLES

# What py7zr lets through from a damaged archive, besides its own errors.
UNREADABLE = (Bad7zFile, CrcError, ArchiveError, EOFError, OSError, lzma.LZMAError, zlib.error)


class UnsafeArchive(RuntimeError):
    pass


def _check_member(archive: Path, info) -> bool:
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


def extract_tables(archive: Path, destination: Path, max_bytes: int) -> list[Path]:
    """Extract the dump's table files from `archive`, refusing more than `max_bytes`
    (the setting LAKE_MAX_EXTRACT_BYTES); return their paths."""
    try:
        with py7zr.SevenZipFile(archive, "r", max_extract_size=max_bytes) as packed:
            members = [info for info in packed.list() if _check_member(archive, info)]
            declared = sum(info.uncompressed or 0 for info in members)
            if declared > max_bytes:
                raise UnsafeArchive(
                    f"{archive.name}: tables declare {declared} bytes, over the limit of "
                    f"{max_bytes} (raise it with the setting LAKE_MAX_EXTRACT_BYTES)"
                )
            names = [info.filename for info in members]
            staging = destination / f".extracting-{archive.name}"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            with byte_progress(f"extract {archive.name}", declared):
                packed.extract(path=staging, targets=names)
    except (
        Bad7zFile,
        CrcError,
        ArchiveError,
        EOFError,
        OSError,
        lzma.LZMAError,
        zlib.error,
    ) as error:
        raise UnsafeArchive(f"{archive.name}: corrupt or unreadable archive ({error})") from None
    except DecompressionBombError as error:
        raise UnsafeArchive(f"{archive.name}: {error}") from None
    extracted = []
    for name in names:
        source = staging / name
        if source.is_symlink() or not source.is_file():
            raise UnsafeArchive(f"{archive.name}: {name} did not extract as a regular file")
        target = destination / name
        source.replace(target)
        extracted.append(target)
    shutil.rmtree(staging, ignore_errors=True)
    return extracted
