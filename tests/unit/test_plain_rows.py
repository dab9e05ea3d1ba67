"""The Arrow reader of plain row lines against lxml, the reference: same batches, always."""

import json

import py7zr
import pyarrow as pa
import pytest

from dump_generator.sample import SampleSpec, write_sample_dump
from lakehouse.bronze import xml_rows
from lakehouse.bronze.plain_rows import leave_every_row, read_plain_rows
from lakehouse.bronze.xml_rows import census_lines, parse_lines
from lakehouse.schemas import DUMP_TABLES, table_for_file

POSTS = table_for_file("Posts.xml")
NAMES = [attribute.name for attribute in POSTS.attributes]

# Lines the Arrow reader must read itself, and lines it must leave to lxml.
PLAIN = [
    '<row Id="1" Body="&lt;p&gt;a &amp;amp; b &amp;lt; c&lt;/p&gt;&#xA;&#xD;&#x9;" />',
    '<row Id="2" Title="&quot;quoted&quot; &apos;single&apos; &gt; = ok" Tags="|a|b|"/>',
    '<row Id="3" Title="" Body="🚲 größe 自行车 «naïve»" />',
    '<row Id="4" Title=" Score=" Score="5" />',
    '<row Id="5" Score="12.5" CreationDate="yesterday" />',
    '<row Id="6" Body="&amp;#xA; stays text" />',
    '<row Id="7" Body="raw\ttab, &#x9;tab" />',
]
NOT_PLAIN = [
    '<row Id="10" Body="&#10; decimal reference" />',
    '<row Id="11" Body="&#xa; lower-case reference" />',
    '<row Id="12" Body="&#x1F600; other reference" />',
    '<row Id="14" Surprise="unknown attribute" />',
    '<row Id="15" Id="16" />',
    '<row Id="17"  Score="1" />',
    "<row Id='18' Score=\"2\" />",
    '<row Id="19" ></row>',
    '<row Id = "20" />',
    '<row Id="21" Body="&secret;" />',
    '<row Id="22" Body="a & b" />',
    '<row Id="23" Body="a < b" />',
    '<row Id="24" Body="bell\x07" />',
    '<row Id="25" Body="\ufffe" />',
    '<row Id="26" Title="cut',
    "<row />",
    "<row/>",
    '<rowx Id="27" />',
    '<row Id="28" / >',
    '<row Id="29" Body="x"',
]


def canonical(batch: pa.RecordBatch) -> list[str]:
    rows = batch.to_pylist()
    for row in rows:
        if "_rescued_data" in row:
            row["_rescued_data"] = sorted(row["_rescued_data"] or [])
    return sorted(json.dumps(row, default=str, sort_keys=True) for row in rows)


def both_readers(lines, table, monkeypatch):
    ours = parse_lines(lines, table)
    with monkeypatch.context() as patched:
        patched.setattr(xml_rows, "read_plain_rows", leave_every_row)
        reference = parse_lines(lines, table)
    return ours, reference


def test_plain_lines_are_read_without_lxml():
    plain = read_plain_rows(pa.array(PLAIN), NAMES)
    assert len(plain.other_lines) == 0
    assert plain.values["Body"][0].as_py() == "<p>a &amp; b &lt; c</p>\n\r\t"
    assert plain.values["Title"][1].as_py() == "\"quoted\" 'single' > = ok"
    assert plain.values["Title"][3].as_py() == " Score="
    assert plain.values["Score"][3].as_py() == "5"
    assert plain.values["Body"][5].as_py() == "&#xA; stays text"
    assert plain.values["Body"][6].as_py() == "raw tab, \ttab"


@pytest.mark.parametrize("line", NOT_PLAIN)
def test_every_other_line_is_left_to_lxml(line):
    plain = read_plain_rows(pa.array([PLAIN[0], line]), NAMES)
    assert plain.other_lines.to_pylist() == [line]
    assert len(plain.values["Id"]) == 1


def test_both_readers_give_the_same_batch_for_every_kind_of_line(monkeypatch):
    lines = ["\ufeff<?xml version='1.0'?>", "<posts>", *PLAIN, *NOT_PLAIN, "</posts>"]
    ours, reference = both_readers(lines, POSTS, monkeypatch)
    assert ours.num_rows == len(lines)  # one output row per non-blank line
    assert canonical(ours) == canonical(reference)


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
def test_both_readers_agree_on_every_generated_file(tmp_path, monkeypatch, line_end):
    write_sample_dump(SampleSpec(questions=120, seed=3, line_ending=line_end), tmp_path)
    for table in DUMP_TABLES.values():
        lines = (tmp_path / table.file_name).read_text(encoding="utf-8").split("\n")
        ours, reference = both_readers(lines, table, monkeypatch)
        assert canonical(ours) == canonical(reference), table.file_name


def test_both_readers_agree_on_the_real_dumps(shared_dumps, monkeypatch, tmp_path):
    for archive in sorted(shared_dumps.glob("*.7z")):
        with py7zr.SevenZipFile(archive) as packed:
            packed.extractall(tmp_path / archive.stem)
        for table in DUMP_TABLES.values():
            path = tmp_path / archive.stem / table.file_name
            lines = path.read_text(encoding="utf-8").split("\n")
            ours, reference = both_readers(lines, table, monkeypatch)
            assert canonical(ours) == canonical(reference), f"{archive.name}: {table.file_name}"
            # Real rows are plain: lxml is the exception, not the rule.
            rows = [line.strip() for line in lines if line.strip().startswith("<row")]
            names = [attribute.name for attribute in table.attributes]
            assert len(read_plain_rows(pa.array(rows), names).other_lines) == 0


def test_the_census_sees_each_line_as_the_parse_does(tmp_path):
    write_sample_dump(SampleSpec(questions=60, seed=5), tmp_path)
    posts = (tmp_path / "Posts.xml").read_text(encoding="utf-8").split("\n")
    lines = posts + PLAIN + NOT_PLAIN + ['<row Id="x1" />', '<row Title="no id" />']
    parsed, census = parse_lines(lines, POSTS), census_lines(lines, POSTS)
    assert census.num_rows == parsed.num_rows
    assert canonical(census) == canonical(parsed.select(["id", "_line_kind"]))
