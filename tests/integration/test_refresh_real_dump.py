"""A refresh to a real dump of ../shared/stackexchange: an earlier version made from it
is loaded first, then the dump itself, and every table equals a load of the dump alone
(refresh_helpers says how the dumps are made and compared)."""

import py7zr
import pytest
from lxml import etree
from pyspark.sql import functions as F
from refresh_helpers import (
    EARLIER,
    check_lineage,
    check_oracles,
    differences,
    pack_listed,
    refresh_and_compare,
)
from test_real_dumps import FILE_ORDER, PUBLISHED_ROWS

from ingest.dump_revision import RevisionSpec, write_dump_revision
from ingest.sources import LocalArchive
from lakehouse.schemas import DUMP_TABLES


@pytest.mark.realdump
def test_a_refresh_to_a_real_dump_equals_a_fresh_load(
    refreshed_lake, fresh_lake, shared_dumps, tmp_path
):
    site = "french.meta.stackexchange.com"
    real = shared_dumps / f"{site}.7z"
    later_dir, earlier_dir = tmp_path / "later", tmp_path / "earlier"
    with py7zr.SevenZipFile(real) as packed:
        packed.extractall(later_dir)
    write_dump_revision(later_dir, earlier_dir, RevisionSpec(seed=3))
    earlier = LocalArchive(pack_listed(earlier_dir, tmp_path / "e" / f"{site}.7z", EARLIER))

    _, second = refresh_and_compare(
        refreshed_lake, fresh_lake, earlier, LocalArchive(real), tmp_path
    )
    assert second.dump_id.startswith("2021-09-")
    rows_in = {
        name: sum(1 for _ in etree.iterparse(str(later_dir / name), tag="row"))
        for name in DUMP_TABLES
    }
    assert tuple(rows_in[name] for name in FILE_ORDER) == PUBLISHED_ROWS[site]
    for checked in (fresh_lake, refreshed_lake):
        assert checked.read("bronze.posts_quarantine").where(F.col("site") == site).count() == 0
        assert checked.read("bronze.rejected_rows").where(F.col("site") == site).count() == 0
        check_oracles(checked, site, later_dir, rows_in)
    assert differences(refreshed_lake, fresh_lake, site) == {}
    check_lineage(refreshed_lake, site, second.dump_id, earlier_dir, later_dir)
