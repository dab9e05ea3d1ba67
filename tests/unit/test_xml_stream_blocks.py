"""The structure check reads most blocks of lines in one go; whatever the lines and
wherever the blocks fall, it must say exactly what reading them line by line says."""

import random

import pytest

from lakehouse.schemas import table_for_file
from worker.ingest.xml_check import BadXmlFile, XmlStreamCheck

POSTS = table_for_file("Posts.xml")


class LineByLine(XmlStreamCheck):
    """The reference: every line through `_line`."""

    def _whole_block(self, block: bytes) -> bool:
        return False


def random_line(rng: random.Random, other_lines: int = 20) -> str:
    """A row line, or now and then (`other_lines` in a thousand) one of every other kind."""
    row_id = rng.choice([rng.randrange(1, 400), -1])
    date = f"20{rng.randrange(10, 24)}-0{rng.randrange(1, 9)}-1{rng.randrange(0, 9)}T10:00:00.000"
    return rng.choices(
        [
            f'  <row Id="{row_id}" PostTypeId="1" CreationDate="{date}" Body="b &lt; c" />',
            f'  <row PostTypeId="2" Id="{row_id}" CreationDate="{date}" />',
            "  garbage that is not a row",
            "  <!-- a comment -->",
            "  <?pi data?>",
            "",
            "   ",
            '  <!-- a comment\n  over <row Id="7" /> lines -->',
        ],
        weights=[1000 - other_lines, *[other_lines / 7] * 7],
    )[0]


def dump_text(rng: random.Random, ending: str, lines: int, other_lines: int) -> str:
    body = "\n".join(random_line(rng, other_lines) for _ in range(lines))
    text = f'\ufeff<?xml version="1.0" encoding="utf-8"?>\n<posts>\n{body}\n</posts>\n'
    return text.replace("\n", ending)


def checked(check_class, data: bytes, chunk: int):
    out = bytearray()
    check = check_class("Posts.xml", POSTS, out.extend, date_rows=True)
    try:
        for start in range(0, len(data), chunk):
            check.write(data[start : start + chunk])
        return check.close(), bytes(out)
    except BadXmlFile as error:
        return str(error), None


@pytest.mark.parametrize("seed", range(12))
def test_blocks_and_lines_agree_on_every_fact_and_every_byte(seed):
    rng = random.Random(seed)
    # Half the files are nearly all rows, so that whole blocks of them occur.
    other_lines = 200 if seed % 2 else 2
    data = dump_text(rng, rng.choice(["\n", "\r\n"]), rng.randrange(200, 3000), other_lines)
    data = data.encode()
    if seed % 4 == 3:  # a second copy of the fixed Id, so duplicates are certain to occur
        data = data.replace(b"</posts>", b'  <row Id="5" />\n  <row Id="5" />\n</posts>')
    chunk = rng.choice([97, 4096, 1 << 16])
    assert checked(XmlStreamCheck, data, chunk) == checked(LineByLine, data, chunk)


@pytest.mark.parametrize(
    ("odd_line", "refused"),
    [
        ('<!DOCTYPE posts [<!ENTITY x "y">]>', True),
        ('</posts>\n  <row Id="1" />', True),
        ("<posts>", False),  # inside the root: a line bronze rejects, counted as a row line
        ("<!-- a comment that never ends", False),
    ],
)
def test_blocks_and_lines_agree_on_odd_lines_deep_in_a_file(odd_line, refused):
    rng = random.Random(1)
    lines = [random_line(rng) for _ in range(2000)]
    lines.insert(1500, odd_line)
    data = (
        '<?xml version="1.0" encoding="utf-8"?>\n<posts>\n' + "\n".join(lines) + "\n</posts>\n"
    ).encode()
    fast = checked(XmlStreamCheck, data, 4096)
    assert fast == checked(LineByLine, data, 4096)
    assert isinstance(fast[0], str) == refused


def test_a_long_file_reports_its_bytes_and_rows_as_it_goes():
    data = dump_text(random.Random(3), "\n", 5000, other_lines=0).encode()
    reports = []
    check = XmlStreamCheck(
        "Posts.xml", POSTS, progress=lambda *report: reports.append(report), progress_seconds=0
    )
    for start in range(0, len(data), 1 << 16):
        check.write(data[start : start + (1 << 16)])
    facts = check.close()
    assert len(reports) > 1 and reports == sorted(reports)
    assert 0 < reports[-1][1] <= facts.rows and reports[-1][0] <= facts.bytes
