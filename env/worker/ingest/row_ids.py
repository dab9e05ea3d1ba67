"""Find a file's duplicated row Ids while ingest reads it, in memory that does not grow
with the rows: one bit per possible Id, not a set of every Id.

Bronze needs the duplicated Ids before it writes, to keep one row per Id. When ingest
names them, bronze reads the file once; otherwise it counts the file itself first
(lakehouse.bronze.census). Ingest names them only where it is certain to agree with
bronze's parse: every row line opens with `<row Id="<digits>"`, as in every published
dump. A duplicate of a line bronze then rejects is named too, which costs bronze
nothing: it keeps the first of the Id's rows that parse.
"""

import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.raw_layout import MAX_LISTED_DUPLICATES

PLAIN_ID = re.compile(rb'<row Id="(-?\d{1,10})"')
# Ids past this would make the bitmap large (128 MB); such a file is counted by bronze.
MAX_ID = 1 << 30
BATCH = 1 << 16
IDS_PER_ROW_GROUP = 1 << 20  # of the Ids file; bits of the bitmap read at a time


class DuplicateIds:
    """Feed it each stripped row line; it names the Ids that appear on several lines,
    or None when it cannot be certain (see the module's docstring)."""

    def __init__(self) -> None:
        self.seen = np.zeros(1 << 17, np.uint8)  # one bit per Id; grows with the largest
        self.negative_counts: dict[int, int] = {}  # the Community user's -1, and such
        self.digits: list[bytes] = []  # of row lines `add` has not counted yet
        self.copies: dict[int, int] = {}
        self.certain = True

    def add(self, row_line: bytes) -> None:
        """Note one row line's Id."""
        if not self.certain:
            return
        match = PLAIN_ID.match(row_line)
        if match is None:
            self.certain = False
            return
        self.digits.append(match[1])
        if len(self.digits) == BATCH:
            digits, self.digits = self.digits, []
            self.add_plain_ids(digits)

    def add_plain_ids(self, ids: list[bytes]) -> None:
        """Note the Ids of row lines already known to open with a plain `Id` (the digits
        of PLAIN_ID), many at once."""
        if not self.certain or not ids:
            return
        values = np.array(ids).astype(np.int64)
        if values.max() >= MAX_ID:
            self.certain = False
            return
        for negative in values[values < 0].tolist():
            self.negative_counts[negative] = self.negative_counts.get(negative, 0) + 1
        self.certain = len(self.negative_counts) <= MAX_LISTED_DUPLICATES
        self._count(values[values >= 0])

    def _count(self, ids: np.ndarray) -> None:
        """Note non-negative Ids in the bitmap, and count those seen before."""
        if not len(ids):
            return
        needed = int(ids.max()) // 8 + 1
        if needed > len(self.seen):
            size = min(max(needed, 2 * len(self.seen)), MAX_ID // 8)  # doubling, up to the cap
            self.seen = np.concatenate([self.seen, np.zeros(size - len(self.seen), np.uint8)])
        unique, counts = np.unique(ids, return_counts=True)
        byte, bit = unique >> 3, (1 << (unique & 7)).astype(np.uint8)
        seen_before = (self.seen[byte] & bit) != 0
        np.bitwise_or.at(self.seen, byte, bit)  # `at`: several Ids may share a byte
        repeated = seen_before | (counts > 1)
        for row_id, earlier, count in zip(
            unique[repeated].tolist(),
            seen_before[repeated].tolist(),
            counts[repeated].tolist(),
            strict=True,
        ):
            self.copies[row_id] = self.copies.get(row_id, 1 if earlier else 0) + count
        if len(self.copies) > MAX_LISTED_DUPLICATES:
            self.certain = False

    def duplicated(self) -> dict[int, int] | None:
        """Id -> the number of row lines carrying it, for the Ids on several lines."""
        digits, self.digits = self.digits, []
        self.add_plain_ids(digits)
        if not self.certain:
            return None
        negatives = {row_id: n for row_id, n in self.negative_counts.items() if n > 1}
        return {**self.copies, **negatives}

    def ids_parquet(self) -> bytes | None:
        """Every Id the row lines carry, each once and in order, as a Parquet file of one
        `id` column, or None where `duplicated` is None. Bronze's refresh compares them
        with the stored Ids before it parses the file (lakehouse.raw_layout.ROW_IDS)."""
        if self.duplicated() is None:
            return None
        sink = pa.BufferOutputStream()
        schema = pa.schema([pa.field("id", pa.int64())])
        # Ascending Ids differ by little: delta-encoded, a million take about a megabyte.
        with pq.ParquetWriter(
            sink, schema, use_dictionary=False, column_encoding={"id": "DELTA_BINARY_PACKED"}
        ) as writer:
            if self.negative_counts:
                writer.write_table(pa.table({"id": sorted(self.negative_counts)}, schema))
            step = IDS_PER_ROW_GROUP // 8
            for start in range(0, len(self.seen), step):
                bits = np.unpackbits(self.seen[start : start + step], bitorder="little")
                ids = np.flatnonzero(bits).astype(np.int64) + start * 8
                if len(ids):
                    writer.write_table(pa.table({"id": ids}, schema))
        return bytes(sink.getvalue())
