"""Finding the newest dump of a site among archive.org's release items, against a local
mirror of archive.org, and recognising a dump already in the lake before downloading it."""

import pytest

from archive_mirror import serve_archive_mirror
from laptop.ports import free_port
from worker.ingest.archive_org import ArchiveOrgUnreachable, release_items
from worker.ingest.ingest_dump import ingest_dump
from worker.ingest.sources import ArchiveOrgItem

BICYCLES, FRENCH = "bicycles.meta.stackexchange.com", "french.meta.stackexchange.com"
RELEASES = {
    "stackexchange_20240630": [f"{BICYCLES}.7z", f"{FRENCH}.7z"],
    "stackexchange_20251231": [f"{FRENCH}.7z"],
    "stackexchange_20250630": [f"{FRENCH}.7z"],
}


@pytest.fixture(scope="module")
def mirror(shared_dumps, tmp_path_factory):
    server, base_url = serve_archive_mirror(
        shared_dumps, tmp_path_factory.mktemp("mirror"), releases=RELEASES
    )
    yield server, base_url
    server.shutdown()


def test_releases_are_listed_newest_first_then_the_legacy_item(mirror):
    _, base_url = mirror
    assert release_items(base_url) == [
        "stackexchange_20251231",
        "stackexchange_20250630",
        "stackexchange_20240630",
        "stackexchange",
    ]


def test_a_site_resolves_to_the_newest_release_that_holds_it(mirror, tmp_path):
    _, base_url = mirror
    french = ArchiveOrgItem(FRENCH, "", base_url).fetch(tmp_path / "downloads")
    assert french[0].publication.evidence == "archive.org item stackexchange_20251231"
    assert f"{french[0].publication.date:%Y-%m-%d}" == "2025-12-31"
    bicycles = ArchiveOrgItem(BICYCLES, "", base_url).listed()
    assert [entry.name for entry in bicycles] == [f"{BICYCLES}.7z"]
    pinned = ArchiveOrgItem(FRENCH, "stackexchange", base_url).fetch(tmp_path / "pinned")
    assert pinned[0].publication.evidence.startswith("mtime of")


def test_a_dump_in_the_lake_is_recognised_before_any_download(mirror, settings, s3, tmp_path):
    from worker.ingest.raw_store import ensure_bucket

    # A bucket of its own: the real-dump tests load the same archive, dated 2023-09.
    settings = settings.model_copy(update={"bucket": f"{settings.bucket}-releases"})
    ensure_bucket(s3, settings.bucket)
    server, base_url = mirror
    source = ArchiveOrgItem(BICYCLES, "", base_url)
    first = ingest_dump(source, settings, tmp_path / "first")
    assert first.dump_id.startswith("2024-06-30-") and not first.already_ingested
    server.requested.clear()
    again = ingest_dump(ArchiveOrgItem(BICYCLES, "", base_url), settings, tmp_path / "second")
    assert again.already_ingested and again.dump_id == first.dump_id
    assert not [path for path in server.requested if path.endswith(".7z")], server.requested


def test_no_network_is_one_line_naming_archive_org_and_the_alternative(tmp_path):
    unreachable = f"http://127.0.0.1:{free_port()}/download"
    with pytest.raises(ArchiveOrgUnreachable, match=r"archive\.org is unreachable .*DUMP="):
        ArchiveOrgItem(FRENCH, "", unreachable).fetch(tmp_path)
