"""The earlier dump cut at a date keeps Stack Exchange's own invariants, on generated
dumps of several formats and on the real dumps: Tags.xml `Count` is each tag's live
questions, a live question's `AnswerCount` its live answers, every reference resolves,
and no row says anything dated after the cut."""

import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import py7zr
import pytest
from lxml import etree

from conftest import SHARED_DUMPS, absent, shared_dumps_present
from dump_generator.cut import CutSpec, cut_leaving, write_earlier_dump
from dump_generator.revision import tags_of
from dump_generator.sample import WATERMARK_QUESTION_ID, spec_for_format, write_sample_dump
from lakehouse.schemas import DUMP_TABLES

pytestmark = pytest.mark.unit

_DATE = re.compile(r'(\w*Date)="([^"]+)"')


def _rows(xml_dir: Path, name: str) -> list[dict]:
    return [dict(r.attrib) for _, r in etree.iterparse(str(xml_dir / name), tag="row")]


def check_invariants(xml_dir: Path, cut_at: str) -> None:
    posts = {int(p["Id"]): p for p in _rows(xml_dir, "Posts.xml")}
    live = {i: p for i, p in posts.items() if "DeletionDate" not in p and i < WATERMARK_QUESTION_ID}
    questions = {i: p for i, p in live.items() if p["PostTypeId"] == "1"}
    tagged = Counter(tag for p in questions.values() for tag in tags_of(p.get("Tags")))
    counts = {t["TagName"]: int(t.get("Count", 0)) for t in _rows(xml_dir, "Tags.xml")}
    assert {tag: n for tag, n in counts.items() if n} == dict(tagged)
    answers = Counter(int(p["ParentId"]) for p in live.values() if p["PostTypeId"] == "2")
    for question_id, question in questions.items():
        assert int(question.get("AnswerCount", 0)) == answers[question_id], question_id
    for post in posts.values():
        for reference in ("ParentId", "AcceptedAnswerId"):
            assert int(post.get(reference, next(iter(posts)))) in posts, (post["Id"], reference)
    for name in DUMP_TABLES:
        text = (xml_dir / name).read_text(encoding="utf-8-sig")
        late = [(kind, when) for kind, when in _DATE.findall(text) if when > cut_at]
        assert not late, (name, late[:3])


@pytest.mark.parametrize(
    "options",
    [
        {"release": "2025-06"},  # shuffled posts, fabricated posts, untagged questions
        {"release": "2024-04", "encoding": "utf-8-sig"},  # deleted posts
        {"release": "2023-09", "line_ending": "\r\n"},
    ],
)
def test_an_earlier_generated_dump_keeps_the_invariants(options, tmp_path):
    options = dict(options)
    spec = spec_for_format(options.pop("release"), site="cut.example.com", questions=80, **options)
    write_sample_dump(spec, tmp_path / "later")
    cut = cut_leaving(tmp_path / "later", share=0.2)
    counts = write_earlier_dump(tmp_path / "later", tmp_path / "earlier", CutSpec(cut=cut))
    assert counts.deleted["Posts.xml"] and counts.edited["Posts.xml"]
    assert counts.added["Posts.xml"] == 3
    check_invariants(tmp_path / "later", "9999")
    check_invariants(tmp_path / "earlier", f"{cut:%Y-%m-%dT%H:%M:%S.%f}"[:23])


@pytest.mark.parametrize(
    "site", ["french.meta.stackexchange.com", "bicycles.meta.stackexchange.com"]
)
def test_an_earlier_real_dump_keeps_the_invariants(site, tmp_path):
    if not shared_dumps_present():
        absent(f"{SHARED_DUMPS} holds no <site>.7z")
    with py7zr.SevenZipFile(SHARED_DUMPS / f"{site}.7z") as packed:
        packed.extractall(tmp_path / "later")
    cut = cut_leaving(tmp_path / "later", share=0.1)
    write_earlier_dump(tmp_path / "later", tmp_path / "earlier", CutSpec(cut=cut))
    check_invariants(tmp_path / "earlier", f"{cut:%Y-%m-%dT%H:%M:%S.%f}"[:23])


def test_what_happened_after_the_cut_has_not_happened(tmp_path):
    """An answer accepted, an edit, a closing and a deletion after the cut are not in the
    earlier dump; a post deleted after it is left out (what it said then is unknown)."""
    later, earlier = tmp_path / "later", tmp_path / "earlier"
    later.mkdir()
    files = {
        "Posts.xml": [
            '<row Id="1" PostTypeId="1" CreationDate="2024-01-01T00:00:00.000" Tags="&lt;a&gt;"'
            ' AcceptedAnswerId="3" AnswerCount="2" LastEditDate="2024-06-01T00:00:00.000"'
            ' LastEditorUserId="5" ClosedDate="2024-07-01T00:00:00.000" />',
            '<row Id="2" PostTypeId="2" ParentId="1" CreationDate="2024-01-02T00:00:00.000" />',
            '<row Id="3" PostTypeId="2" ParentId="1" CreationDate="2024-05-01T00:00:00.000" />',
            '<row Id="4" PostTypeId="1" CreationDate="2024-01-05T00:00:00.000" Tags="&lt;a&gt;"'
            ' DeletionDate="2024-04-01T00:00:00.000" />',
        ],
        "Users.xml": ['<row Id="5" CreationDate="2023-01-01T00:00:00.000" />'],
        "Tags.xml": ['<row Id="1" TagName="a" Count="1" />'],
    }
    for name, rows in files.items():
        root = DUMP_TABLES[name].root
        body = "".join(f"  {row}\n" for row in rows)
        (later / name).write_text(
            f'<?xml version="1.0" encoding="utf-8"?>\n<{root}>\n{body}</{root}>\n'
        )
    cut = datetime(2024, 3, 1, tzinfo=UTC)
    write_earlier_dump(later, earlier, CutSpec(cut=cut, deleted_later=0, retagged=0))
    posts = {p["Id"]: p for p in _rows(earlier, "Posts.xml")}
    assert sorted(posts) == ["1", "2"]
    assert posts["1"] == {
        "Id": "1",
        "PostTypeId": "1",
        "CreationDate": "2024-01-01T00:00:00.000",
        "Tags": "<a>",
        "AnswerCount": "1",
    }
    assert _rows(earlier, "Tags.xml") == [{"Id": "1", "TagName": "a", "Count": "1"}]
