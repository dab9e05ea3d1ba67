"""Quiet quarters: the dumps a small site publishes when little happens, made backwards
from a later dump's XML so that the last of them is that dump itself.

Before the later dump come, newest last:
- `no_new_users`: the later dump without two users who have no AboutMe (nearly every
  new user on a real site has none); the next dump brings only them back;
- `no_new_votes`: that, without the newest votes; the next dump adds only votes;
- `older_access`: that, with a few users' LastAccessDate earlier; the next dump changes
  nothing but LastAccessDate.
The two users were in the dump cut at a date that comes first, so the last step also
brings back rows that a dump had deleted. Every file not edited is copied byte for byte.
"""

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dump_generator.revision import dump_rows
from dump_generator.sample import format_date, row_line
from lakehouse.schemas import DUMP_TABLES


@dataclass(frozen=True)
class Quarter:
    name: str
    xml_dir: Path
    # What loading the next quarter over this one changes, per bronze table.
    next_changes: dict[str, dict[str, int]]


def _without(ids: set[int]):
    """An edit that drops the rows with these Ids."""
    return lambda row: None if int(row["Id"]) in ids else row


def _rewrite(source: Path, out: Path, name: str, edit) -> None:
    """Copy `source` to `out`, passing `name`'s rows through `edit` (None drops one); a
    row it hands back unchanged keeps its line byte for byte."""
    out.mkdir(parents=True)
    for file_name in DUMP_TABLES:
        if (source / file_name).exists() and file_name != name:
            shutil.copyfile(source / file_name, out / file_name)
    bom = (source / name).read_bytes().startswith(b"\xef\xbb\xbf")
    with (out / name).open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        for line, row in dump_rows(source / name):
            edited = edit(row) if row else row
            if edited is row:
                f.write(line)
            elif edited is not None:
                indent = line[: len(line) - len(line.lstrip())]
                f.write(row_line(edited, indent, line[len(line.rstrip("\r\n")) :]))


def _rows(xml_dir: Path, name: str) -> list[dict]:
    if not (xml_dir / name).exists():
        return []
    return [row for _, row in dump_rows(xml_dir / name) if row]


def _active_users(xml_dir: Path) -> set[int]:
    """Users some row of another table names: leaving them out would break a reference."""
    named = {
        "Posts.xml": ("OwnerUserId", "LastEditorUserId"),
        "Comments.xml": ("UserId",),
        "Badges.xml": ("UserId",),
        "PostHistory.xml": ("UserId",),
        "Votes.xml": ("UserId",),
    }
    return {
        int(row[attribute])
        for name, attributes in named.items()
        for row in _rows(xml_dir, name)
        for attribute in attributes
        if row.get(attribute)
    }


def quiet_quarters_before(later_dir: Path, cut: datetime, work: Path) -> list[Quarter]:
    """The three quiet quarters before the dump in `later_dir`, oldest first; the users
    brought back last joined before `cut`."""
    users = [u for u in _rows(later_dir, "Users.xml") if int(u["Id"]) > 0]
    active = _active_users(later_dir)
    without_about_me = [
        u
        for u in users
        if datetime.fromisoformat(u["CreationDate"]).replace(tzinfo=UTC) <= cut
        and "AboutMe" not in u
    ]
    # Idle users first, as on a real site; the generated sample's users all post, and
    # then the quarters between name users they lack (bronze has no foreign keys).
    without_about_me.sort(key=lambda u: int(u["Id"]) not in active)
    returning = {int(u["Id"]) for u in without_about_me[:2]}
    assert len(returning) == 2, "the dump has no two users without AboutMe before the cut"
    no_new_users = work / "no_new_users"
    _rewrite(later_dir, no_new_users, "Users.xml", _without(returning))

    newest_votes = set(sorted(int(v["Id"]) for v in _rows(later_dir, "Votes.xml"))[-3:])
    no_new_votes = work / "no_new_votes"
    _rewrite(no_new_users, no_new_votes, "Votes.xml", _without(newest_votes))

    month = timedelta(days=30)
    accessed = [
        u
        for u in users
        if int(u["Id"]) not in returning
        and datetime.fromisoformat(u.get("LastAccessDate", u["CreationDate"]))
        >= datetime.fromisoformat(u["CreationDate"]) + month
    ]
    earlier_access = {int(u["Id"]) for u in accessed[:4]}

    def access_a_month_earlier(row: dict) -> dict:
        if int(row["Id"]) not in earlier_access:
            return row
        then = datetime.fromisoformat(row["LastAccessDate"]) - month
        return {**row, "LastAccessDate": format_date(then)}

    older_access = work / "older_access"
    _rewrite(no_new_votes, older_access, "Users.xml", access_a_month_earlier)
    return [
        Quarter("older_access", older_access, {"users": {"changed": len(earlier_access)}}),
        Quarter("no_new_votes", no_new_votes, {"votes": {"added": len(newest_votes)}}),
        Quarter("no_new_users", no_new_users, {"users": {"changed": len(returning)}}),
    ]
