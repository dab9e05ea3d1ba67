"""Downloads from an archive.org-shaped server on loopback: verified, resumable, and
never visible under the final name until the hashes match."""

import http.server
import threading

import pytest

from archives import files_xml
from worker.ingest.archive_org import (
    ChecksumMismatch,
    download,
    parse_files_xml,
)
from worker.ingest.sources import ArchiveOrgItem, site_of_archive, source_for, source_for_entry

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class RangeHandler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    served_ranges: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        data = self.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start = 0
        if header := self.headers.get("Range"):
            self.served_ranges.append(header)
            start = int(header.removeprefix("bytes=").split("-")[0])
            self.send_response(206)
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:])

    def log_message(self, *args):
        pass


@pytest.fixture
def archive_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    RangeHandler.served_ranges = []
    RangeHandler.files = {
        "/download/item1/item1_files.xml": files_xml({"site.example.com.7z": PAYLOAD}).encode(),
        "/download/item1/site.example.com.7z": PAYLOAD,
    }
    yield f"http://127.0.0.1:{server.server_address[1]}/download"
    server.shutdown()


def test_parses_the_shared_files_xml_format():
    listed = parse_files_xml(files_xml({"a.7z": b"abc"}))
    assert listed["a.7z"].size == 3 and listed["a.7z"].md5 == "900150983cd24fb0d6963f7d28e17f72"


def test_download_verifies_and_resumes(archive_server, tmp_path):
    item = ArchiveOrgItem("site.example.com", "item1", archive_server)
    partial = tmp_path / "site.example.com.7z.part"
    partial.write_bytes(PAYLOAD[:300_000])
    (fetched,) = item.fetch(tmp_path)
    assert fetched.path.read_bytes() == PAYLOAD
    assert RangeHandler.served_ranges == ["bytes=300000-"]
    assert not partial.exists()


def test_checksum_mismatch_leaves_no_final_file(archive_server, tmp_path):
    RangeHandler.files["/download/item1/site.example.com.7z"] = PAYLOAD[:-1] + b"\x00"
    with pytest.raises(ChecksumMismatch, match="site.example.com.7z: md5"):
        ArchiveOrgItem("site.example.com", "item1", archive_server).fetch(tmp_path)
    assert not (tmp_path / "site.example.com.7z").exists()


def test_truncated_download_is_a_size_mismatch(tmp_path, archive_server):
    listed = parse_files_xml(files_xml({"x.7z": PAYLOAD + b"more"}))["x.7z"]
    with pytest.raises(ChecksumMismatch, match="size"):
        download(f"{archive_server}/item1/site.example.com.7z", listed, tmp_path / "x.7z")
    assert not (tmp_path / "x.7z").exists()


@pytest.mark.parametrize(
    ("name", "site"),
    [
        ("bicycles.meta.stackexchange.com.7z", "bicycles.meta.stackexchange.com"),
        ("stackoverflow.com-Posts.7z", "stackoverflow.com"),
        ("stackoverflow.com-PostHistory.7z", "stackoverflow.com"),
    ],
)
def test_site_of_archive(name, site):
    assert site_of_archive(name) == site


def test_bad_archive_name_is_named():
    with pytest.raises(ValueError, match="'notes.zip'"):
        site_of_archive("notes.zip")


def test_source_for_reads_item_and_site_from_an_archive_org_url(tmp_path):
    source = source_for(
        "https://archive.org/download/stackexchange_20250930/french.stackexchange.com.7z",
        None,
        item="stackexchange",
        base_url="unused",
        sample_dir=tmp_path,
    )
    assert source == ArchiveOrgItem(
        "french.stackexchange.com", "stackexchange_20250930", "https://archive.org/download"
    )


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("sample", "GeneratedSample"),
        ("french.stackexchange.com", "ArchiveOrgItem"),
        (
            "https://archive.org/download/stackexchange/french.stackexchange.com.7z",
            "ArchiveOrgItem",
        ),
        ("/data/dumps/french.stackexchange.com.7z", "LocalArchive"),
    ],
)
def test_a_configured_dump_entry_picks_its_source(tmp_path, entry, expected):
    source = source_for_entry(
        entry, item="stackexchange", base_url="https://archive.org/download", sample_dir=tmp_path
    )
    assert type(source).__name__ == expected
