"""The generator's invariants, checked by reading its files back with lxml (not with
the pipeline's own parser)."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from lxml import etree

from dump_generator.sample import (
    EPOCH,
    STACK_OVERFLOW,
    SampleSpec,
    pack_sample_dump,
    write_sample_dump,
)
from lakehouse.schemas import DUMP_TABLES


def read_rows(path):
    return [dict(el.attrib) for _, el in etree.iterparse(str(path), tag="row")]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sample")
    counts = write_sample_dump(SampleSpec(questions=300, seed=7), directory)
    return directory, counts


def test_all_eight_files_with_bom_and_declared_row_counts(sample):
    directory, counts = sample
    assert set(counts) == set(DUMP_TABLES)
    for name, count in counts.items():
        raw = (directory / name).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf<?xml")
        assert len(read_rows(directory / name)) == count > 0


def test_tags_count_is_the_number_of_questions_with_the_tag(sample):
    directory, _ = sample
    posts = read_rows(directory / "Posts.xml")
    carried = Counter()
    for post in posts:
        if post["PostTypeId"] == "1":
            tags = post["Tags"]
            names = tags.strip("|").split("|") if tags.startswith("|") else tags[1:-1].split("><")
            carried.update(names)
    declared = {t["TagName"]: int(t["Count"]) for t in read_rows(directory / "Tags.xml")}
    assert declared == dict(carried)


def test_answer_count_is_the_number_of_answers(sample):
    directory, _ = sample
    posts = read_rows(directory / "Posts.xml")
    answers = Counter(p["ParentId"] for p in posts if p["PostTypeId"] == "2")
    for question in (p for p in posts if p["PostTypeId"] == "1"):
        assert int(question["AnswerCount"]) == answers[question["Id"]]
    ids = {p["Id"] for p in posts}
    assert all(p["ParentId"] in ids for p in posts if p["PostTypeId"] == "2")


def test_schema_quirks_of_real_dumps_are_present(sample):
    directory, _ = sample
    posts = read_rows(directory / "Posts.xml")
    users = read_rows(directory / "Users.xml")
    assert any(u["Id"] == "-1" and u["DisplayName"] == "Community" for u in users)
    assert any("OwnerDisplayName" in p and "OwnerUserId" not in p for p in posts)
    assert any("Title" not in p for p in posts)  # optional attributes left out
    tags = [p["Tags"] for p in posts if "Tags" in p]
    assert any(t.startswith("|") for t in tags) and any(t.startswith("<") for t in tags)
    assert any(ord(ch) > 0x3000 for p in posts for ch in p["Body"])  # CJK and emoji
    raw = (directory / "Posts.xml").read_text(encoding="utf-8")
    assert "&lt;p&gt;" in raw and "&amp;amp;" in raw and "&#xA;" in raw
    user_ids = {u["Id"] for u in users}
    assert all(p["OwnerUserId"] in user_ids for p in posts if "OwnerUserId" in p)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    first = write_sample_dump(SampleSpec(questions=50, seed=1), tmp_path / "a")
    again = write_sample_dump(SampleSpec(questions=50, seed=1), tmp_path / "b")
    write_sample_dump(SampleSpec(questions=50, seed=2), tmp_path / "c")
    assert first == again
    posts = [(tmp_path / d / "Posts.xml").read_bytes() for d in "abc"]
    assert posts[0] == posts[1] != posts[2]


def test_crlf_line_ends(tmp_path):
    write_sample_dump(SampleSpec(questions=5, line_ending="\r\n"), tmp_path)
    raw = (tmp_path / "Users.xml").read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n") > 3


def test_size_target_grows_posts(tmp_path):
    write_sample_dump(SampleSpec(questions=1), tmp_path, target_posts_bytes=2_000_000)
    assert (tmp_path / "Posts.xml").stat().st_size >= 2_000_000


def test_packed_archive_is_reproducible(tmp_path):
    first = pack_sample_dump(SampleSpec(questions=20), tmp_path / "x1", tmp_path / "one" / "s.7z")
    second = pack_sample_dump(SampleSpec(questions=20), tmp_path / "x2", tmp_path / "two" / "s.7z")
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize(("questions", "posts_bytes"), [(300, None), (1, 4_000_000)])
def test_every_date_falls_before_the_dump_date_whatever_the_size(tmp_path, questions, posts_bytes):
    spec = SampleSpec(questions=questions)
    write_sample_dump(spec, tmp_path, target_posts_bytes=posts_bytes)
    dates = [
        datetime.fromisoformat(value).replace(tzinfo=UTC)
        for name in DUMP_TABLES
        for row in read_rows(tmp_path / name)
        for attribute, value in row.items()
        if attribute.endswith("Date")
    ]
    assert all(EPOCH <= date < spec.dump_date for date in dates)
    # The questions spread over years, so the monthly trend has points to show.
    assert max(dates) - min(dates) > timedelta(days=5 * 365)


# Stack Overflow's rows per post in its 2024 dump (millions of rows over 50M posts), an
# oracle from outside this project: SkobelevIgor/stackexchange-xml-converter's README.
STACK_OVERFLOW_ROWS_PER_POST = {
    "PostHistory.xml": 133 / 50,
    "Comments.xml": 76 / 50,
    "Votes.xml": 200 / 50,
    "Badges.xml": 37 / 50,
    "Users.xml": 13 / 50,
    "PostLinks.xml": 7 / 50,
}


def test_a_dump_in_stack_overflows_proportions_reaches_its_size_with_its_rows_per_post(
    tmp_path,
):
    target = 20 * 10**6
    rows = write_sample_dump(
        SampleSpec(proportions=STACK_OVERFLOW), tmp_path, target_dump_bytes=target
    )
    sizes = {name: (tmp_path / name).stat().st_size for name in DUMP_TABLES}
    assert target <= sum(sizes.values()) < target * 1.01
    for name, per_post in STACK_OVERFLOW_ROWS_PER_POST.items():
        assert rows[name] / rows["Posts.xml"] == pytest.approx(per_post, rel=0.15), name
    # PostHistory carries every body again, as in the real dumps: the largest file.
    assert max(sizes, key=sizes.get) == "PostHistory.xml"
