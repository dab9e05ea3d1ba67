from datetime import UTC, datetime

from lakehouse.bronze.xml_rows import FORBIDDEN, REJECTED, ROOT_CLOSE, ROW, parse_lines
from lakehouse.schemas import table_for_file

POSTS = table_for_file("Posts.xml")
BADGES = table_for_file("Badges.xml")


def rows_of(lines, table=POSTS):
    return parse_lines(lines, table).to_pylist()


def test_row_attributes_are_typed_and_missing_ones_are_null():
    (row,) = rows_of(
        [
            '  <row Id="7" PostTypeId="2" ParentId="1" CreationDate="2011-08-17T20:28:45.003" '
            'Score="-3" Body="&lt;p&gt;a &amp;amp; b&lt;/p&gt;&#xA;" />'
        ]
    )
    assert row["id"] == 7 and row["post_type_id"] == 2 and row["parent_id"] == 1
    assert row["score"] == -3
    assert row["creation_date"] == datetime(2011, 8, 17, 20, 28, 45, 3000, tzinfo=UTC)
    assert row["body"] == "<p>a &amp; b</p>\n"
    assert row["title"] is None and row["owner_user_id"] is None
    assert row["_line_kind"] == ROW and row["_rescued_data"] is None


def test_structure_lines_bom_and_crlf():
    lines = [
        '\ufeff<?xml version="1.0" encoding="utf-8"?>\r',
        "<posts>\r",
        '  <row Id="1" PostTypeId="1" />\r',
        "</posts>",
    ]
    kinds = [r["_line_kind"] for r in rows_of(lines)]
    assert kinds.count(ROW) == 1 and kinds.count(ROOT_CLOSE) == 1


def test_values_that_do_not_fit_their_type_are_rescued_not_lost():
    (row,) = rows_of(['<row Id="1" Score="12.5" CreationDate="yesterday" Surprise="x" />'])
    assert row["score"] is None and row["creation_date"] is None
    assert dict(row["_rescued_data"]) == {
        "Score": "12.5",
        "CreationDate": "yesterday",
        "Surprise": "x",
    }


def test_booleans_read_as_the_dump_writes_them():
    rows = rows_of(['<row Id="1" TagBased="True" />', '<row Id="2" TagBased="False" />'], BADGES)
    assert [r["tag_based"] for r in rows] == [True, False]


def test_malformed_lines_are_rejected_with_their_reason_and_good_lines_survive():
    rows = rows_of(['<row Id="1" />', '<row Id="2" Title="cut', '<row Id="3" />', "garbage"])
    good = [r["id"] for r in rows if r["_line_kind"] == ROW]
    bad = [r for r in rows if r["_line_kind"] == REJECTED]
    assert good == [1, 3]
    assert {r["_raw_line"] for r in bad} == {'<row Id="2" Title="cut', "garbage"}
    assert all(r["_reject_reason"] for r in bad)


def test_entities_are_never_expanded_and_doctype_is_flagged():
    rows = rows_of(
        [
            '<!DOCTYPE posts [<!ENTITY secret SYSTEM "file:///etc/passwd">]>',
            '<row Id="1" Body="&secret;" />',
        ]
    )
    kinds = {r["_line_kind"]: r for r in rows}
    assert FORBIDDEN in kinds
    assert kinds[REJECTED]["_reject_reason"].startswith("malformed XML")
    assert not any("root:" in str(r.get("body")) for r in rows)


def test_a_malformed_row_is_placed_within_the_row_not_at_lxmls_line_1():
    (rejected,) = [r for r in rows_of(['<row Id="7" Body=oops />']) if r["_line_kind"] == REJECTED]
    assert rejected["_reject_reason"] == (
        "malformed XML at character 18 of the row: AttValue: \" or ' expected"
    )
