"""Read plain dump row lines with Arrow compute instead of an XML parser.

Nearly every line of a dump is `<row Name="value" ... />` with known attributes and
values that use only the named entities and the line-end character references. An
attribute value cannot hold a `"`, so splitting such a line on `"` yields its names and
values in turn, and a whole batch of lines is read by a few vectorised passes. lxml is
the reference: any line this module is not certain about (an unknown or repeated
attribute, another character reference, odd spacing, anything not well-formed) is
left for lxml, and the unit tests hold both readers to the same output.
"""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# What an attribute value may hold on this path: no markup, no control characters but
# the tab (an XML parser rejects them), and only these entities.
PLAIN_VALUE = (
    r"^(?:[^<&\x00-\x08\x0a-\x1f\x{FFFE}\x{FFFF}]|&(?:lt|gt|quot|apos|amp|#xA|#xD|#x9);)*$"
)
# XML turns a raw tab in a value into a space, but `&#x9;` into a tab; `&amp;` goes last,
# so that `&amp;lt;` becomes `&lt;` and not `<`. The rare ones are only applied to the
# few values that hold one: each replacement is a pass over every byte.
COMMON_REPLACEMENTS = (("&lt;", "<"), ("&gt;", ">"), ("&#xA;", "\n"))
RARE_REPLACEMENTS = (
    ("\t", " "),
    ("&quot;", '"'),
    ("&apos;", "'"),
    ("&#xD;", "\r"),
    ("&#x9;", "\t"),
)
RARE = r"&(?:quot|apos|#xD|#x9);|\t"
LAST_REPLACEMENT = ("&amp;", "&")
ROW_OPEN = "<row"
ROW_CLOSERS = pa.array([" />", "/>"])


@dataclass(frozen=True)
class PlainRows:
    """The attribute values of the plain lines, and the lines left for an XML parser."""

    values: dict[str, pa.Array]  # attribute name -> its unescaped values, nulls where absent
    other_lines: pa.Array


def read_plain_rows(
    row_lines: pa.Array, attribute_names: list[str], wanted: list[str] | None = None
) -> PlainRows:
    """`row_lines` are stripped lines starting with `<row`; values are returned for the
    `wanted` attributes (all by default), but every line is checked in full."""
    line_count = len(row_lines)
    tokens = pc.split_pattern(row_lines, '"')
    flat = pc.list_flatten(tokens)
    token_line = pc.list_parent_indices(tokens).to_numpy()
    starts = tokens.offsets.to_numpy()
    tokens_per_line = np.diff(starts)
    position = np.arange(len(flat)) - starts[token_line]
    is_closer = position == tokens_per_line[token_line] - 1
    is_value = (position % 2 == 1) & ~is_closer
    is_name = (position % 2 == 0) & ~is_closer

    # A plain line has an odd number of tokens: name, value, ..., name, value, closer.
    not_plain = (tokens_per_line % 2 == 0) | (tokens_per_line < 3)
    closers = pc.is_in(flat.filter(pa.array(is_closer)), value_set=ROW_CLOSERS)
    not_plain[token_line[is_closer][~closers.to_numpy(zero_copy_only=False)]] = True

    # A line's first name token still holds the `<row` that opens it; no other may.
    count = len(attribute_names)
    name_tokens = [f" {name}=" for name in attribute_names]
    name_tokens += [f"{ROW_OPEN}{token}" for token in name_tokens]
    found = pc.index_in(flat.filter(pa.array(is_name)), value_set=pa.array(name_tokens))
    found = found.fill_null(-1).to_numpy()
    opens_line = position[is_name] == 0
    misplaced = (found < 0) | ((found >= count) != opens_line)
    not_plain[token_line[is_name][misplaced]] = True
    attribute_of_token = np.full(len(flat), -1)
    attribute_of_token[is_name] = np.where(found < 0, -1, found % count)
    value_index = np.flatnonzero(is_value)
    value_attribute = attribute_of_token[value_index - 1]
    value_line = token_line[value_index]
    values = flat.filter(pa.array(is_value))
    plain_value = pc.match_substring_regex(values, PLAIN_VALUE).to_numpy(zero_copy_only=False)
    not_plain[value_line[~plain_value]] = True

    positions_by_attribute = []
    for attribute in range(len(attribute_names)):
        chosen = np.flatnonzero(value_attribute == attribute)
        lines_with_it = value_line[chosen]
        repeated = np.bincount(lines_with_it, minlength=line_count) > 1
        not_plain |= repeated
        position_in_line = np.full(line_count, -1)
        position_in_line[lines_with_it] = chosen
        positions_by_attribute.append(position_in_line)

    wanted = attribute_names if wanted is None else wanted
    wanted_attributes = [attribute_names.index(name) for name in wanted]
    values = _unescape(values, np.isin(value_attribute, wanted_attributes))
    plain = pa.array(~not_plain)
    columns = {
        name: values.take(pa.array(positions, mask=positions < 0)).filter(plain)
        for name, positions in zip(attribute_names, positions_by_attribute, strict=True)
        if name in wanted
    }
    return PlainRows(columns, row_lines.filter(pa.array(not_plain)))


def _unescape(values: pa.Array, chosen: np.ndarray) -> pa.Array:
    """`values` with the `chosen` ones unescaped (the others are not needed)."""
    if not chosen.all():
        mask = pa.array(chosen)
        return pc.replace_with_mask(values, mask, _unescape(values.filter(mask), chosen[chosen]))
    for written, meant in COMMON_REPLACEMENTS:
        values = pc.replace_substring(values, written, meant)
    has_rare = pc.match_substring_regex(values, RARE)
    if pc.any(has_rare).as_py():
        rare = values.filter(has_rare)
        for written, meant in RARE_REPLACEMENTS:
            rare = pc.replace_substring(rare, written, meant)
        values = pc.replace_with_mask(values, has_rare, rare)
    return pc.replace_substring(values, *LAST_REPLACEMENT)


def leave_every_row(
    row_lines: pa.Array, attribute_names: list[str], wanted: list[str] | None = None
) -> PlainRows:
    """Read no line, leaving every one to lxml: the reference that the tests and
    benchmarks hold `read_plain_rows` to."""
    empty = pa.nulls(0, pa.string())
    return PlainRows({name: empty for name in wanted or attribute_names}, row_lines)
