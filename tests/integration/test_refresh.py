"""A new dump of a generated site already in the lake: the current tables equal a fresh
load of it, what changed is in bronze.row_lineage, and an older dump never rolls the
tables back (refresh_helpers says how the dumps are made and compared)."""

import pytest
from pipeline_helpers import run_pipeline, versions
from refresh_helpers import (
    EARLIER,
    LATER,
    check_lineage,
    check_oracles,
    differences,
    pack_listed,
    refresh_and_compare,
)

from ingest.dump_revision import RevisionSpec, write_dump_revision
from ingest.sample_dump import SampleSpec, write_sample_dump
from ingest.sources import LocalArchive
from lakehouse.bronze.dump_history import OlderDump
from localenv.lake_summary import refresh_changes


def test_a_refresh_of_the_sample_equals_a_fresh_load(refreshed_lake, fresh_lake, tmp_path):
    site = "refresh.example.com"
    later_dir, earlier_dir = tmp_path / "later", tmp_path / "earlier"
    write_sample_dump(SampleSpec(site=site, questions=40, seed=5), later_dir)
    write_dump_revision(later_dir, earlier_dir, RevisionSpec(seed=11, share=0.08))
    earlier = LocalArchive(pack_listed(earlier_dir, tmp_path / "e" / f"{site}.7z", EARLIER))
    later = LocalArchive(pack_listed(later_dir, tmp_path / "l" / f"{site}.7z", LATER))

    first, second = refresh_and_compare(refreshed_lake, fresh_lake, earlier, later, tmp_path)
    assert differences(refreshed_lake, fresh_lake, site) == {}
    check_oracles(refreshed_lake, site, later_dir, second.rows)
    posts_changed = check_lineage(refreshed_lake, site, second.dump_id, earlier_dir, later_dir)
    summary = refresh_changes(refreshed_lake.settings, site, second.dump_id)
    assert summary["replaced_dump_id"] == first.dump_id
    assert summary["rows"]["posts"] == posts_changed

    before = versions(refreshed_lake)
    with pytest.raises(OlderDump, match=f"dump {first.dump_id} .* is older"):
        run_pipeline(refreshed_lake, site, first.dump_id)
    assert versions(refreshed_lake) == before, "an older dump changed a table"
    assert differences(refreshed_lake, fresh_lake, site) == {}
