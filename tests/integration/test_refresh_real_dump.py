"""A refresh to a real dump of ../shared/stackexchange: an earlier version made from it
is loaded first, then the dump itself. Every table equals a load of the dump alone, what
changed is in bronze.row_lineage, and an older dump never rolls the tables back
(refresh_helpers says how the dumps are made and compared).

A whole site's refresh costs three pipeline runs, so it runs once, on the real dump, the
stronger oracle; the earlier dump is still made by the project's revision generator.
test_sync_guard.py covers the sync's guard on small tables."""

import py7zr
import pytest
from lxml import etree
from pipeline_helpers import run_pipeline, versions
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
from lakehouse.bronze.dump_history import OlderDump
from lakehouse.schemas import DUMP_TABLES
from localenv.lake_summary import refresh_changes


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

    first, second = refresh_and_compare(
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
    posts_changed = check_lineage(refreshed_lake, site, second.dump_id, earlier_dir, later_dir)
    summary = refresh_changes(refreshed_lake.settings, site, second.dump_id)
    assert summary["replaced_dump_id"] == first.dump_id
    assert summary["rows"]["posts"] == posts_changed

    before = versions(refreshed_lake)
    with pytest.raises(OlderDump, match=f"dump {first.dump_id} .* is older"):
        run_pipeline(refreshed_lake, site, first.dump_id)
    assert versions(refreshed_lake) == before, "an older dump changed a table"
