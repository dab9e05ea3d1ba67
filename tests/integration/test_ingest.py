"""Ingest against the test S3 server: the raw layout, idempotency, and bad archives
that must stop before anything is uploaded."""

import errno
import hashlib
import json
import re
from datetime import UTC, datetime

import pytest

from archives import files_xml, pack
from dump_generator.sample import SampleSpec, write_sample_dump
from lakehouse.raw_layout import ROW_IDS, row_ids_file
from lakehouse.schemas import DUMP_TABLES
from worker.ingest.archive_members import UnsafeArchive
from worker.ingest.archive_org import ChecksumMismatch
from worker.ingest.ingest_dump import DiskFull, MissingRequiredFile, ingest_dump
from worker.ingest.raw_store import MULTIPART_THRESHOLD
from worker.ingest.sources import GeneratedSample, LocalArchive
from worker.ingest.xml_check import BadXmlFile


def keys(s3, bucket, prefix):
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(entry["Key"] for entry in listing.get("Contents", []))


@pytest.fixture(scope="module")
def sample_xml(tmp_path_factory):
    directory = tmp_path_factory.mktemp("xml")
    write_sample_dump(SampleSpec(site="ingest.example.com", questions=30), directory)
    return {name: (directory / name).read_bytes() for name in DUMP_TABLES}


def test_sample_lands_in_the_raw_layout_once(s3, settings, tmp_path):
    source = GeneratedSample(SampleSpec(site="layout.example.com", questions=20), tmp_path / "s")
    first = ingest_dump(source, settings, tmp_path / "work")
    prefix = f"raw/layout.example.com/{first.dump_id}/"
    listed_ids = {name: row_ids_file(name) for name in DUMP_TABLES}
    assert keys(s3, settings.bucket, prefix) == sorted(
        [prefix + name for name in [*DUMP_TABLES, *listed_ids.values(), "manifest.json"]]
    )
    manifest = json.loads(
        s3.get_object(Bucket=settings.bucket, Key=prefix + "manifest.json")["Body"].read()
    )
    assert manifest["rows"]["Posts.xml"] == first.rows["Posts.xml"] > 20
    assert manifest[ROW_IDS] == listed_ids
    again = ingest_dump(source, settings, tmp_path / "work")
    assert again.already_ingested and again.dump_id == first.dump_id
    assert first.dump_id.startswith("2025-12-31-")


def test_checksum_mismatch_uploads_nothing(s3, settings, tmp_path, sample_xml):
    archive = pack(tmp_path / "ingest.example.com.7z", sample_xml)
    listed = {"ingest.example.com.7z": archive.read_bytes() + b"!"}
    (tmp_path / "stackexchange_files.xml").write_text(files_xml(listed))
    with pytest.raises(ChecksumMismatch, match="ingest.example.com.7z"):
        ingest_dump(LocalArchive(archive), settings, tmp_path / "work")
    assert keys(s3, settings.bucket, "raw/ingest.example.com/") == []


def test_corrupt_archive_uploads_nothing(s3, settings, tmp_path, sample_xml):
    archive = pack(tmp_path / "ingest.example.com.7z", sample_xml)
    archive.write_bytes(archive.read_bytes()[:-5000])
    with pytest.raises(UnsafeArchive, match="ingest.example.com.7z"):
        ingest_dump(LocalArchive(archive), settings, tmp_path / "work")
    assert keys(s3, settings.bucket, "raw/ingest.example.com/") == []


def test_truncated_xml_inside_the_archive_uploads_nothing(s3, settings, tmp_path, sample_xml):
    cut = {**sample_xml, "Votes.xml": sample_xml["Votes.xml"][:-40]}
    archive = pack(tmp_path / "ingest.example.com.7z", cut)
    with pytest.raises(BadXmlFile, match="Votes.xml: truncated"):
        ingest_dump(LocalArchive(archive), settings, tmp_path / "work")
    assert keys(s3, settings.bucket, "raw/ingest.example.com/") == []


def test_missing_users_is_named(s3, settings, tmp_path, sample_xml):
    without = {k: v for k, v in sample_xml.items() if k != "Users.xml"}
    archive = pack(tmp_path / "ingest.example.com.7z", without)
    with pytest.raises(MissingRequiredFile, match="no Users.xml"):
        ingest_dump(LocalArchive(archive), settings, tmp_path / "work")
    assert keys(s3, settings.bucket, "raw/ingest.example.com/") == []


def test_optional_files_may_be_missing_and_are_named(s3, settings, tmp_path, sample_xml):
    only = {k: sample_xml[k] for k in ("Posts.xml", "Users.xml", "Tags.xml")}
    archive = pack(tmp_path / "partial.example.com.7z", only)
    result = ingest_dump(LocalArchive(archive), settings, tmp_path / "work")
    assert set(result.rows) == set(only)
    assert set(result.missing) == set(DUMP_TABLES) - set(only)


def test_stack_overflow_style_per_table_archives(s3, settings, tmp_path, sample_xml):
    folder = tmp_path / "so"
    folder.mkdir()
    for name, data in sample_xml.items():
        pack(folder / f"stackoverflow.com-{name.removesuffix('.xml')}.7z", {name: data})
    result = ingest_dump(LocalArchive(folder), settings, tmp_path / "work")
    assert result.site == "stackoverflow.com" and result.missing == []
    # Each file, the list of its Ids, and the manifest.
    stored = keys(s3, settings.bucket, f"raw/stackoverflow.com/{result.dump_id}/")
    assert len(stored) == 2 * len(DUMP_TABLES) + 1


def open_uploads(s3, bucket, prefix):
    return s3.list_multipart_uploads(Bucket=bucket, Prefix=prefix).get("Uploads", [])


@pytest.mark.parametrize("decoder", ["auto", "py7zr"])
def test_an_undated_archive_streams_to_raw_with_no_table_on_disk(
    s3, settings, tmp_path, sample_xml, decoder
):
    site = f"{decoder}.stream.example.com"
    archive = pack(tmp_path / f"{site}.7z", sample_xml)
    work = tmp_path / "work"
    chosen = settings.model_copy(update={"archive_decoder": decoder})
    result = ingest_dump(LocalArchive(archive), chosen, work)
    assert [path for path in work.rglob("*") if path.is_file()] == []
    every_date = re.findall(rb'Date="(\d{4}-\d\d-\d\d)', b"".join(sample_xml.values()))
    assert result.dump_id.startswith(max(every_date).decode() + "-")
    stored = s3.get_object(Bucket=settings.bucket, Key=f"raw/{site}/{result.dump_id}/Posts.xml")
    assert stored["Body"].read() == sample_xml["Posts.xml"]
    assert result.sha1["Posts.xml"] == hashlib.sha1(sample_xml["Posts.xml"]).hexdigest()
    assert [key for key in keys(s3, settings.bucket, f"raw/{site}/") if ".incoming-" in key] == []


def _manifest(s3, bucket: str, site: str, dump_id: str) -> dict:
    key = f"raw/{site}/{dump_id}/manifest.json"
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_a_quarter_whose_newest_post_did_not_move_is_dated_by_its_newest_row(
    s3, settings, tmp_path, sample_xml
):
    """A quiet site's next dump has the same newest post; its users' LastAccessDate
    moved, so it dates later than the one before and the refresh can order them."""
    site = "quiet.example.com"
    for quarter in ("a", "b"):
        (tmp_path / quarter).mkdir()
    earlier = ingest_dump(
        LocalArchive(pack(tmp_path / "a" / f"{site}.7z", sample_xml)), settings, tmp_path / "w"
    )
    users = sample_xml["Users.xml"]
    accessed = max(re.findall(rb'LastAccessDate="([^"]+)"', users))
    later_access = b"2031-01-15T08:00:00.000"
    later_xml = {**sample_xml, "Users.xml": users.replace(accessed, later_access, 1)}
    later = ingest_dump(
        LocalArchive(pack(tmp_path / "b" / f"{site}.7z", later_xml)), settings, tmp_path / "w"
    )
    assert earlier.dump_id[:10] < later.dump_id[:10] == "2031-01-15"
    manifest = _manifest(s3, settings.bucket, site, later.dump_id)
    assert manifest["published"] == "2031-01-15T08:00:00+00:00"
    assert manifest["published_from"] == "newest date of any row (Users.xml)"


def test_a_stated_publication_time_dates_a_local_archive(s3, settings, tmp_path, sample_xml):
    """LAKE_DUMP_PUBLISHED dates an archive nothing else dates. Stated for a dump already
    in the lake under another time, it ingests the dump again under the stated one; the
    first id stays, and without the setting the dump is still found by it."""
    site = "stated.example.com"
    archive = LocalArchive(pack(tmp_path / f"{site}.7z", sample_xml))
    dated_by_rows = ingest_dump(archive, settings, tmp_path / "w")
    stated = settings.model_copy(update={"dump_published": datetime(2032, 3, 31, tzinfo=UTC)})
    restated = ingest_dump(archive, stated, tmp_path / "w")
    assert not restated.already_ingested
    assert restated.dump_id == f"2032-03-31-{dated_by_rows.dump_id[11:]}"
    manifest = _manifest(s3, settings.bucket, site, restated.dump_id)
    assert manifest["published_from"] == "stated by LAKE_DUMP_PUBLISHED"
    assert ingest_dump(archive, stated, tmp_path / "w").already_ingested
    again = ingest_dump(archive, settings, tmp_path / "w")
    assert again.already_ingested and again.dump_id in (dated_by_rows.dump_id, restated.dump_id)


def test_a_bad_file_after_large_ones_streamed_leaves_no_object_and_no_open_upload(
    s3, settings, tmp_path, sample_xml
):
    site = "abort.example.com"
    users = b"<users>\n" + b"".join(
        b'  <row Id="%d" DisplayName="%s" />\n' % (n, b"x" * 60) for n in range(1, 200_000)
    )
    files = {**sample_xml, "Users.xml": users + b"</users>", "Votes.xml": b"<votes>\n"}
    folder = tmp_path / "per-table"
    folder.mkdir()
    for name, data in files.items():
        pack(folder / f"{site}-{name.removesuffix('.xml')}.7z", {name: data})
    assert len(files["Users.xml"]) > 2 * MULTIPART_THRESHOLD  # so it went up in parts
    with pytest.raises(BadXmlFile, match="Votes.xml: truncated"):
        ingest_dump(LocalArchive(folder), settings, tmp_path / "work")
    assert keys(s3, settings.bucket, f"raw/{site}/") == []
    assert open_uploads(s3, settings.bucket, f"raw/{site}/") == []


class FullDisk:
    """A source whose download runs out of disk."""

    site = "full.example.com"

    def listed(self):
        return None

    def fetch(self, downloads):
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_scratch_disk_names_the_setting_and_uploads_nothing(s3, settings, tmp_path):
    with pytest.raises(DiskFull, match=r"no space left .* setting LAKE_WORK_DIR") as caught:
        ingest_dump(FullDisk(), settings, tmp_path / "work")
    assert "\n" not in str(caught.value)
    assert keys(s3, settings.bucket, "raw/full.example.com/") == []
