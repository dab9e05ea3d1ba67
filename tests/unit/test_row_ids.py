"""Ingest names a file's duplicated Ids, and lists its Ids, exactly as bronze's own census
does, or says it cannot."""

import io
import random

import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.bronze.xml_rows import census_lines
from lakehouse.raw_layout import MAX_LISTED_DUPLICATES
from lakehouse.schemas import table_for_file
from worker.ingest.row_ids import IDS_PER_ROW_GROUP, MAX_ID, DuplicateIds

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


def test_the_bitmap_never_outgrows_one_bit_per_id_below_the_cap():
    finder = DuplicateIds()
    half_way = MAX_ID // 2 + 64  # its bitmap a little over half the cap
    for row_id in (half_way, half_way + 8, MAX_ID - 1, MAX_ID - 1):
        finder.add_plain_ids([str(row_id).encode()])  # one batch each: the bitmap doubles
    assert finder.duplicated() == {MAX_ID - 1: 2}
    assert len(finder.seen) == MAX_ID // 8


def test_the_listed_ids_are_the_census_ids_each_once_in_order():
    rng = random.Random(11)
    ids = [rng.randrange(-3, 3 * IDS_PER_ROW_GROUP) for _ in range(100_000)] + [-1, -1, 0, 7, 7]
    finder = DuplicateIds()
    for row_id in ids:
        finder.add(f'<row Id="{row_id}" DisplayName="u{row_id}" />'.encode())
    listed = finder.ids_parquet()
    assert listed is not None
    table = pq.read_table(io.BytesIO(listed))
    lines = [f'<row Id="{row_id}" />' for row_id in ids]
    census = set(census_lines(pa.array(lines), USERS).column("id").to_pylist())
    assert table.column("id").to_pylist() == sorted(census)
    assert table.schema.field("id").type == pa.int64()


def test_no_ids_are_listed_where_the_duplicates_are_not_certain():
    finder = DuplicateIds()
    finder.add(b'<row DisplayName="x" Id="1" />')
    assert finder.ids_parquet() is None


def test_a_row_without_a_leading_plain_id_leaves_the_count_to_bronze():
    assert duplicated(['<row Id="1" />', '<row DisplayName="x" Id="2" />']) is None
    assert duplicated(['<row Id="1" />', '<row Id="x" />']) is None
    assert duplicated([f'<row Id="{MAX_ID}" />']) is None


def test_too_many_duplicated_ids_leaves_the_count_to_bronze():
    lines = [f'<row Id="{n}" />' for n in range(MAX_LISTED_DUPLICATES + 1)] * 2
    assert duplicated(lines) is None


def test_a_clean_file_has_no_duplicates():
    assert duplicated([f'<row Id="{n}" />' for n in range(1000)]) == {}
