"""Dumps are applied in publication order: the rules of check_order, on their own."""

from collections import namedtuple
from datetime import UTC, datetime

import pytest

from lakehouse.bronze.dump_history import DumpRelease, OlderDump, check_order, release_of

Load = namedtuple("Load", "dump_id published")  # a bronze.dump_loads row, as collected
SITE = "bicycles.stackexchange.com"
# Spark hands timestamps back naive, in the session's zone (UTC).
LOADED = [
    Load("2025-06-30-aaaaaaaa", datetime(2025, 6, 30)),
    Load("2025-12-31-bbbbbbbb", datetime(2025, 12, 31, 8)),
]


def release(dump_id: str, *when) -> DumpRelease:
    return DumpRelease(dump_id, datetime(*when, tzinfo=UTC))


@pytest.mark.parametrize(
    "candidate",
    [release("2026-06-30-cccccccc", 2026, 6, 30), release("2025-12-31-bbbbbbbb", 2025, 12, 31, 8)],
    ids=["newer", "the current one again"],
)
def test_a_newer_dump_or_the_current_one_goes_ahead(candidate):
    check_order(LOADED, SITE, "posts", candidate)
    check_order([], SITE, "posts", candidate)


def test_an_older_dump_is_refused_naming_both():
    with pytest.raises(OlderDump, match=r"dump 2025-09-30-dddddddd .* is older .*2025-12-31-b"):
        check_order(LOADED, SITE, "posts", release("2025-09-30-dddddddd", 2025, 9, 30))


def test_an_earlier_dump_already_loaded_is_refused_too():
    with pytest.raises(OlderDump, match="is older"):
        check_order(LOADED, SITE, "posts", release("2025-06-30-aaaaaaaa", 2025, 6, 30))


def test_two_dumps_published_at_once_are_not_ordered_by_hash():
    with pytest.raises(OlderDump, match="published at the same time.*LAKE_DUMP_PUBLISHED="):
        check_order(LOADED, SITE, "posts", release("2025-12-31-00000000", 2025, 12, 31, 8))


def test_the_release_comes_from_the_manifest_or_the_id():
    dated = release_of({"dump_id": "2025-12-31-bbbbbbbb", "published": "2025-12-31T08:00:00+00:00"})
    assert dated.published == datetime(2025, 12, 31, 8, tzinfo=UTC)
    older_manifest = release_of({"dump_id": "2021-09-06-5212ea10"})
    assert older_manifest.published == datetime(2021, 9, 6, tzinfo=UTC)
