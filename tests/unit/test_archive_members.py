"""Table files stream out of an archive, through either decoder, and a hostile or
damaged archive is refused with its name, and the member and byte where it broke."""

import os
import shutil

import py7zr
import pytest

from archives import pack, rename_member
from conftest import IN_CI
from lakehouse.settings import LakeSettings
from worker.ingest.archive_members import SEVEN_ZIP, UnsafeArchive, stream_members, table_members

LIMIT = LakeSettings().max_extract_bytes
POSTS = b'<?xml version="1.0"?>\n<posts>\n  <row Id="1" />\n</posts>'
DECODERS = [
    pytest.param(
        SEVEN_ZIP,
        marks=pytest.mark.skipif(
            not shutil.which(SEVEN_ZIP) and not IN_CI,
            reason="Debian's 7zip is not installed (`make test-tools` installs it)",
        ),
    ),
    "py7zr",
]


class Collected:
    """Sinks that keep each member's bytes, and note which members were closed."""

    def __init__(self) -> None:
        self.data: dict[str, bytearray] = {}
        self.closed: list[str] = []

    def open(self, member):
        collected = self

        class Sink:
            def write(self, data: bytes) -> None:
                collected.data.setdefault(member.name, bytearray()).extend(data)

            def close(self) -> None:
                collected.closed.append(member.name)

        return Sink()


def streamed(archive, decoder: str) -> Collected:
    collected = Collected()
    stream_members(archive, table_members(archive, LIMIT), collected.open, decoder)
    return collected


@pytest.mark.parametrize("decoder", DECODERS)
def test_only_allow_listed_table_files_stream_whole_and_in_order(tmp_path, decoder):
    users = b"<users>\n" + b'  <row Id="2" />\n' * 50_000 + b"</users>"
    archive = pack(
        tmp_path / "s.7z",
        {"Posts.xml": POSTS, "readme.txt": b"hello", "Tags.xml": b"", "Users.xml": users},
    )
    collected = streamed(archive, decoder)
    assert collected.closed == ["Posts.xml", "Tags.xml", "Users.xml"]
    assert collected.data["Posts.xml"] == POSTS and collected.data["Users.xml"] == users
    assert not list(tmp_path.rglob("*.xml"))  # nothing on disk


def test_path_traversal_stops_before_any_byte_is_decoded(tmp_path):
    archive = pack(tmp_path / "s.7z", {"abcPosts.xml": POSTS})
    rename_member(archive, "abcPosts.xml", "../Posts.xml")
    with pytest.raises(UnsafeArchive, match=r"s.7z: member '../Posts.xml' escapes"):
        table_members(archive, LIMIT)


def test_symlink_member_is_refused(tmp_path):
    link = tmp_path / "Users.xml"
    os.symlink("/etc/passwd", link)
    with py7zr.SevenZipFile(tmp_path / "s.7z", "w") as packed:
        packed.write(link, "Users.xml")
    with pytest.raises(UnsafeArchive, match="symbolic link"):
        table_members(tmp_path / "s.7z", LIMIT)


def test_size_limit_applies_before_decoding(tmp_path):
    archive = pack(tmp_path / "s.7z", {"Posts.xml": b"<posts>\n" + b" " * 100_000 + b"</posts>"})
    with pytest.raises(UnsafeArchive, match="over the limit of 1000 .*LAKE_MAX_EXTRACT_BYTES"):
        table_members(archive, max_bytes=1000)


def test_a_cut_download_is_named(tmp_path):
    archive = pack(tmp_path / "s.7z", {"Posts.xml": POSTS * 100})
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnsafeArchive, match="s.7z: corrupt or unreadable"):
        table_members(archive, LIMIT)


@pytest.mark.parametrize("decoder", DECODERS)
def test_corrupt_bytes_name_the_member_and_the_byte_in_one_line(tmp_path, decoder):
    """Bytes flipped inside the compressed stream, the header intact."""
    archive = pack(tmp_path / "s.7z", {"Posts.xml": bytes(range(256)) * 4000})
    data = bytearray(archive.read_bytes())
    for offset in range(64, len(data) // 2, 97):
        data[offset] ^= 0xFF
    archive.write_bytes(bytes(data))
    collected = Collected()
    with pytest.raises(
        UnsafeArchive, match=r"^s.7z: Posts.xml is cut or corrupt at byte [\d,]+ of 1,024,000"
    ) as caught:
        stream_members(archive, table_members(archive, LIMIT), collected.open, decoder)
    assert "\n" not in str(caught.value)
    assert collected.closed == []
