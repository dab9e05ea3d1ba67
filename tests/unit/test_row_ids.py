"""Ingest names a file's duplicated Ids exactly as bronze's own census does, or says it
cannot."""

import random

import pyarrow as pa

from lakehouse.bronze.xml_rows import census_lines
from lakehouse.raw_layout import MAX_LISTED_DUPLICATES
from lakehouse.schemas import table_for_file
from worker.ingest.row_ids import MAX_ID, DuplicateIds

USERS = table_for_file("Users.xml")


def duplicated(lines: list[str]) -> dict[int, int] | None:
    finder = DuplicateIds()
    for line in lines:
        finder.add(line.encode())
    return finder.duplicated()


def census_duplicates(lines: list[str]) -> dict[int, int]:
    ids = census_lines(pa.array(lines), USERS).column("id").to_pylist()
    counts: dict[int, int] = {}
    for row_id in ids:
        counts[row_id] = counts.get(row_id, 0) + 1
    return {row_id: n for row_id, n in counts.items() if n > 1}


def test_duplicates_across_batches_and_bitmap_growth_match_the_census():
    rng = random.Random(7)
    ids = [rng.randrange(-3, 3_000_000) for _ in range(200_000)] + [-1, -1, 5, 5, 5]
    lines = [f'<row Id="{row_id}" DisplayName="u{row_id}" />' for row_id in ids]
    found = duplicated(lines)
    assert found == census_duplicates(lines)
    assert found[5] >= 3 and found[-1] >= 2


def test_a_row_without_a_leading_plain_id_leaves_the_count_to_bronze():
    assert duplicated(['<row Id="1" />', '<row DisplayName="x" Id="2" />']) is None
    assert duplicated(['<row Id="1" />', '<row Id="x" />']) is None
    assert duplicated([f'<row Id="{MAX_ID}" />']) is None


def test_too_many_duplicated_ids_leaves_the_count_to_bronze():
    lines = [f'<row Id="{n}" />' for n in range(MAX_LISTED_DUPLICATES + 1)] * 2
    assert duplicated(lines) is None


def test_a_clean_file_has_no_duplicates():
    assert duplicated([f'<row Id="{n}" />' for n in range(1000)]) == {}
