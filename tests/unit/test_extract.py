import os

import pytest

from archives import pack, rename_member
from ingest.extract import UnsafeArchive, extract_tables
from lakehouse.settings import LakeSettings

LIMIT = LakeSettings().max_extract_bytes

POSTS = b'<?xml version="1.0"?>\n<posts>\n  <row Id="1" />\n</posts>'


def test_extracts_only_allow_listed_table_files(tmp_path):
    archive = pack(
        tmp_path / "s.7z",
        {"Posts.xml": POSTS, "Users.xml": b"<users>\n</users>", "readme.txt": b"hello"},
    )
    extracted = extract_tables(archive, tmp_path / "out", LIMIT)
    assert sorted(p.name for p in extracted) == ["Posts.xml", "Users.xml"]
    assert (tmp_path / "out" / "Posts.xml").read_bytes() == POSTS
    assert not list((tmp_path / "out").rglob("readme.txt"))


def test_path_traversal_stops_before_anything_is_written(tmp_path):
    archive = pack(tmp_path / "s.7z", {"abcPosts.xml": POSTS})
    rename_member(archive, "abcPosts.xml", "../Posts.xml")
    with pytest.raises(UnsafeArchive, match=r"s.7z: member '../Posts.xml' escapes"):
        extract_tables(archive, tmp_path / "out", LIMIT)
    assert not (tmp_path / "Posts.xml").exists()


def test_symlink_member_is_refused(tmp_path):
    link = tmp_path / "Users.xml"
    os.symlink("/etc/passwd", link)
    import py7zr

    with py7zr.SevenZipFile(tmp_path / "s.7z", "w") as packed:
        packed.write(link, "Users.xml")
    with pytest.raises(UnsafeArchive, match="symbolic link"):
        extract_tables(tmp_path / "s.7z", tmp_path / "out", LIMIT)


def test_size_limit_applies_before_extraction(tmp_path):
    archive = pack(tmp_path / "s.7z", {"Posts.xml": b"<posts>\n" + b" " * 100_000 + b"</posts>"})
    with pytest.raises(UnsafeArchive, match="over the limit of 1000 .*LAKE_MAX_EXTRACT_BYTES"):
        extract_tables(archive, tmp_path / "out", max_bytes=1000)
    assert not (tmp_path / "out" / "Posts.xml").exists()


def test_corrupt_archive_is_named(tmp_path):
    archive = pack(tmp_path / "s.7z", {"Posts.xml": POSTS * 100})
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnsafeArchive, match="s.7z: corrupt or unreadable"):
        extract_tables(archive, tmp_path / "out", LIMIT)


def test_corrupted_compressed_bytes_are_named_in_one_line(tmp_path):
    """Bytes flipped inside the LZMA stream (not a cut file): the archive is named."""
    archive = pack(tmp_path / "s.7z", {"Posts.xml": bytes(range(256)) * 4000})
    data = bytearray(archive.read_bytes())
    for offset in range(64, len(data) // 2, 97):
        data[offset] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(UnsafeArchive, match=r"^s.7z: corrupt or unreadable archive") as caught:
        extract_tables(archive, tmp_path / "out", LIMIT)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "out" / "Posts.xml").exists()
