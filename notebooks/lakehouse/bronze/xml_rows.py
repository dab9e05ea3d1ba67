"""Parse dump lines (`<row .../>`, one per line) into typed Arrow batches.

The dumps are untrusted input: lxml runs with no DTD loading, no entity expansion and
no network. A line that is not a well-formed row is kept as a rejected line with its
reason, never dropped, and values that do not fit their type go to `_rescued_data`.
"""

import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from lxml import etree

from lakehouse.bronze.plain_rows import ROW_OPEN, read_plain_rows
from lakehouse.schemas import BOOLEAN, INT, LONG, STRING, TIMESTAMP, DumpTable

ROW, REJECTED, PROLOG, ROOT_OPEN, ROOT_CLOSE, FORBIDDEN = (
    "row",
    "rejected",
    "prolog",
    "root_open",
    "root_close",
    "forbidden",
)
# A comment or a processing instruction outside a row: dumps since 2025-05 open most
# files with a comment. It is neither a row nor rejected.
MARKUP = "markup"
BOM = "\ufeff"

ARROW_TYPES = {
    LONG: pa.int64(),
    INT: pa.int32(),
    STRING: pa.string(),
    TIMESTAMP: pa.timestamp("us", tz="UTC"),
    BOOLEAN: pa.bool_(),
}
RESCUED_TYPE = pa.map_(pa.string(), pa.string())
SERVICE_FIELDS = [
    pa.field("_rescued_data", RESCUED_TYPE),
    pa.field("_line_kind", pa.string()),
    pa.field("_raw_line", pa.string()),
    pa.field("_reject_reason", pa.string()),
]


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        collect_ids=False,  # no ID index: faster, and dumps have no xml:id
    )


def arrow_schema(table: DumpTable) -> pa.Schema:
    """The Arrow schema of a table's parsed lines: typed columns, then the service fields."""
    typed = [pa.field(a.column, ARROW_TYPES[a.type]) for a in table.attributes]
    return pa.schema(typed + SERVICE_FIELDS)


def classify(line: str, root: str) -> str | None:
    """The kind of a stripped line, or None for a blank one."""
    if not line:
        return None
    if line.startswith(ROW_OPEN):
        return ROW
    if line.startswith("<?xml ") or line == "<?xml?>":
        return PROLOG
    if (line.startswith("<!--") and line.endswith("-->")) or (
        line.startswith("<?") and line.endswith("?>")
    ):
        return MARKUP
    if line in (f"<{root}>", f"<{root} >"):
        return ROOT_OPEN
    if line == f"</{root}>":
        return ROOT_CLOSE
    if line.startswith(("<!DOCTYPE", "<!ENTITY")):
        return FORBIDDEN
    return REJECTED


def _malformed(error: etree.XMLSyntaxError) -> str:
    """lxml's message with its position as a place in the row: each row is parsed alone,
    so lxml's "line 1" is not the row's line in the file."""
    message = re.sub(r",? line \d+, column \d+$", "", error.msg or str(error))
    return f"malformed XML at character {error.position[1]} of the row: {message}"


def _parse_elements(row_lines: list[str]) -> list[tuple[str, etree._Element | str]]:
    """Parse row lines in one go; on failure, line by line so only bad lines are lost.

    Returns, per line, the line and either its element or the parser's error message.
    """
    parser = _safe_parser()
    try:
        document = etree.fromstring(f"<r>{''.join(row_lines)}</r>", parser)
        if len(document) == len(row_lines):
            return list(zip(row_lines, document, strict=True))
    except etree.XMLSyntaxError:
        pass
    results: list[tuple[str, etree._Element | str]] = []
    for line in row_lines:
        try:
            results.append((line, etree.fromstring(line, parser)))
        except etree.XMLSyntaxError as error:
            results.append((line, _malformed(error)))
    return results


def _typed_column(strings: pa.Array, type_name: str) -> tuple[pa.Array, list[int]]:
    """Cast a string column to its type; return the array and the rows that failed."""
    target = ARROW_TYPES[type_name]
    if type_name == STRING:
        return strings, []
    if type_name == BOOLEAN:
        strings = pc.utf8_lower(strings)
    try:
        return _cast(strings, type_name), []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    typed, failed = [], []
    for index, value in enumerate(strings):
        try:
            typed.append(_cast(pa.array([value.as_py()], pa.string()), type_name)[0].as_py())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            typed.append(None)
            failed.append(index)
    return pa.array(typed, target), failed


def _cast(strings: pa.Array, type_name: str) -> pa.Array:
    if type_name == TIMESTAMP:
        # Dump dates carry no zone and are UTC; cast naive first, then label as UTC.
        return pc.cast(pc.cast(strings, pa.timestamp("us")), ARROW_TYPES[TIMESTAMP])
    return pc.cast(strings, ARROW_TYPES[type_name])


@dataclass(frozen=True)
class _SortedLines:
    """A batch's lines: the values of its rows (plain rows first), and the other lines."""

    strings: dict[str, pa.Array]  # attribute name -> raw string values, one per row
    unknown: list[list[tuple[str, str]] | None]  # per row: attributes the schema lacks
    other_lines: list[tuple[str, ...]]  # (kind, line) or (REJECTED, line, reason)


def _sort_lines(lines: list[str] | pa.Array, table: DumpTable, wanted: list[str]) -> _SortedLines:
    """Plain row lines are read by `read_plain_rows`; lxml reads the other row lines."""
    lines = lines if isinstance(lines, pa.Array) else pa.array(lines, pa.string())
    trimmed = pc.utf8_trim_whitespace(pc.utf8_ltrim(pc.utf8_trim_whitespace(lines), BOM))
    is_row = pc.starts_with(trimmed, ROW_OPEN)
    other_lines: list[tuple[str, ...]] = []
    for line in trimmed.filter(pc.invert(is_row)).to_pylist():
        kind = classify(line, table.root)
        if kind is not None:
            other_lines.append((kind, line))

    names = [attribute.name for attribute in table.attributes]
    plain = read_plain_rows(trimmed.filter(is_row), names, wanted)
    records = []
    for line, element in _parse_elements(plain.other_lines.to_pylist()):
        if isinstance(element, str) or element.tag != "row":
            reason = element if isinstance(element, str) else f"unexpected element <{element.tag}>"
            other_lines.append((REJECTED, line, reason))
        else:
            records.append(dict(element.attrib))

    known = set(names)
    unknown = [None] * len(plain.values[wanted[0]]) + [
        None if record.keys() <= known else [(k, v) for k, v in record.items() if k not in known]
        for record in records
    ]
    strings = {
        name: pa.concat_arrays(
            [plain.values[name], pa.array([record.get(name) for record in records], pa.string())]
        )
        for name in wanted
    }
    return _SortedLines(strings, unknown, other_lines)


def parse_lines(lines: list[str] | pa.Array, table: DumpTable) -> pa.RecordBatch:
    """Turn raw dump lines into one Arrow batch in `arrow_schema(table)`."""
    sorted_lines = _sort_lines(lines, table, [attribute.name for attribute in table.attributes])
    rescued = sorted_lines.unknown
    columns = []
    for attribute in table.attributes:
        raw_values = sorted_lines.strings[attribute.name]
        array, failed = _typed_column(raw_values, attribute.type)
        columns.append(array)
        for index in failed:
            rescued[index] = (rescued[index] or []) + [(attribute.name, raw_values[index].as_py())]

    row_count = len(rescued)
    batch = pa.RecordBatch.from_arrays(
        columns
        + [
            pa.array(rescued, RESCUED_TYPE),
            pa.array([ROW] * row_count, pa.string()),
            pa.nulls(row_count, pa.string()),
            pa.nulls(row_count, pa.string()),
        ],
        schema=arrow_schema(table),
    )
    if not sorted_lines.other_lines:
        return batch
    return pa.concat_batches([batch, _non_row_batch(sorted_lines.other_lines, table)])


CENSUS_SCHEMA = pa.schema([pa.field("id", pa.int64()), pa.field("_line_kind", pa.string())])


def census_lines(lines: list[str] | pa.Array, table: DumpTable) -> pa.RecordBatch:
    """Per line, its kind and its row's Id (null when missing or not a number): what
    `parse_lines` would say of it, without the other values."""
    sorted_lines = _sort_lines(lines, table, ["Id"])
    ids, _ = _typed_column(sorted_lines.strings["Id"], LONG)
    kinds = [ROW] * len(ids) + [entry[0] for entry in sorted_lines.other_lines]
    ids = pa.concat_arrays([ids, pa.nulls(len(sorted_lines.other_lines), pa.int64())])
    return pa.RecordBatch.from_arrays([ids, pa.array(kinds, pa.string())], schema=CENSUS_SCHEMA)


def _non_row_batch(other_lines: list[tuple[str, ...]], table: DumpTable) -> pa.RecordBatch:
    schema = arrow_schema(table)
    count = len(other_lines)
    default_reasons = {
        REJECTED: "not a <row .../> line",
        FORBIDDEN: "DOCTYPE or ENTITY declaration",
    }
    kinds = [entry[0] for entry in other_lines]
    raw = [entry[1] if entry[0] in (REJECTED, FORBIDDEN) else None for entry in other_lines]
    reasons = [
        entry[2] if len(entry) > 2 else default_reasons.get(entry[0]) for entry in other_lines
    ]
    arrays = [pa.nulls(count, field.type) for field in schema][: len(table.attributes)]
    arrays += [
        pa.nulls(count, RESCUED_TYPE),
        pa.array(kinds, pa.string()),
        pa.array(raw, pa.string()),
        pa.array(reasons, pa.string()),
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
