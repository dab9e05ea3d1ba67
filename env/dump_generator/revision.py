"""Derive the next quarter of a dump from a seed dump: what a quarter would bring. (An
earlier quarter, cut at a date, is dump_generator.cut's.)

The revision adds, edits and deletes posts (questions with their answers, and lone
answers), users, comments and votes; it drops what hangs off a deleted post or user
(history, links, votes, comments, badges), and keeps Stack Exchange's invariants:
Tags.xml `Count` is the number of questions carrying the tag, and each question's
`AnswerCount` is its number of answers. Deleted posts (those with a `DeletionDate`) and
the fabricated posts stay as they are. The files keep the seed's format: its byte-order
mark, declaration, comments and line ends; an unchanged row is copied byte for byte.

Two passes over the files: the first reads the Ids and references of every row, the
second writes. Memory grows with the rows' Ids, not their text.
"""

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lxml import etree

from dump_generator.sample import (
    COMMUNITY_USER_ID,
    LICENSES,
    WATERMARK_QUESTION_ID,
    WORDS,
    row_line,
)
from lakehouse.schemas import DUMP_TABLES, ROW_TIME

QUESTION, ANSWER = "1", "2"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass(frozen=True)
class RevisionSpec:
    seed: int = 7
    share: float = 0.05  # about this share of rows is deleted, and as many edited
    new_questions: int = 20
    new_users: int = 10
    new_tag: str = "revision-tag"  # used only by the new questions, so it exists in one version


@dataclass
class RevisionCounts:
    """What the revision did, per table: rows added, edited and deleted."""

    added: Counter = field(default_factory=Counter)
    edited: Counter = field(default_factory=Counter)
    deleted: Counter = field(default_factory=Counter)
    newest_time: datetime | None = None  # the newest time stamp the revision wrote


def dump_rows(path: Path):
    """(raw line, attributes or None) for every line of a dump file."""
    with path.open("r", encoding="utf-8-sig" if _has_bom(path) else "utf-8", newline="") as f:
        for line in f:
            stripped = line.strip()
            attributes = None
            if stripped.startswith("<row"):
                attributes = dict(etree.fromstring(stripped, _PARSER).attrib)
            yield line, attributes


def newest_row_time(xml_dir: Path, names: list[str]) -> datetime:
    """The newest date any row of these files carries, by ingest's own rule."""
    newest = b""
    for name in names:
        with (xml_dir / name).open("rb") as lines:
            for line in lines:
                newest = max([newest, *ROW_TIME.findall(line)])
    return datetime.fromisoformat(newest.decode()).replace(tzinfo=UTC)


def _has_bom(path: Path) -> bool:
    with path.open("rb") as stream:
        return stream.read(3) == b"\xef\xbb\xbf"


def tags_of(value: str | None) -> list[str]:
    if not value:
        return []
    if value.startswith("|"):
        return [tag for tag in value.split("|") if tag]
    return [tag.strip("<") for tag in value.split(">") if tag]


def tags_value(tags: list[str], like: str | None) -> str:
    if like and like.startswith("|"):
        return "|" + "|".join(tags) + "|"
    return "".join(f"<{tag}>" for tag in tags)


class Revision:
    def __init__(self, seed_dir: Path, spec: RevisionSpec):
        self.seed_dir = seed_dir
        self.spec = spec
        self.random = random.Random(spec.seed)
        self.counts = RevisionCounts()
        self.present = [name for name in DUMP_TABLES if (seed_dir / name).exists()]

    # --- the first pass: who refers to whom -------------------------------------------
    def survey(self) -> None:
        live_questions: list[int] = []
        answers_of: dict[int, list[int]] = {}
        self.parent_of, self.post_ids = {}, set()
        self.owners: Counter[int] = Counter()
        self.newest = datetime(2008, 1, 1, tzinfo=UTC)
        self.tag_style = None
        self.max_post_id = 0
        for _, row in dump_rows(self.seed_dir / "Posts.xml"):
            if row is None:
                continue
            post_id = int(row["Id"])
            self.post_ids.add(post_id)
            if post_id < WATERMARK_QUESTION_ID:
                self.max_post_id = max(self.max_post_id, post_id)
            created = datetime.fromisoformat(row["CreationDate"]).replace(tzinfo=UTC)
            self.newest = max(self.newest, created)
            if row.get("OwnerUserId"):
                self.owners[int(row["OwnerUserId"])] += 1
            live = "DeletionDate" not in row and post_id < WATERMARK_QUESTION_ID
            if row.get("PostTypeId") == QUESTION and live:
                live_questions.append(post_id)
                self.tag_style = self.tag_style or row.get("Tags")
            elif row.get("PostTypeId") == ANSWER and row.get("ParentId"):
                self.parent_of[post_id] = int(row["ParentId"])
                if live:
                    answers_of.setdefault(int(row["ParentId"]), []).append(post_id)
        # Ingest dates an undated dump by the newest date of any row: start after it.
        self.newest = max(self.newest, newest_row_time(self.seed_dir, self.present))
        share = self.spec.share
        self.deleted_posts = set()
        for question in live_questions:
            if self.random.random() < share:
                self.deleted_posts.add(question)
                self.deleted_posts.update(answers_of.get(question, []))
        for question in live_questions:
            for answer in answers_of.get(question, []):
                if question not in self.deleted_posts and self.random.random() < share:
                    self.deleted_posts.add(answer)
        self.edited_posts = {
            post
            for post in self.post_ids - self.deleted_posts
            if post < WATERMARK_QUESTION_ID and self.random.random() < share
        }
        self.answers_lost = Counter(
            self.parent_of[post] for post in self.deleted_posts if post in self.parent_of
        )
        kept_questions = [q for q in live_questions if q not in self.deleted_posts]
        self.answered = self.random.sample(kept_questions, min(len(kept_questions), 5))

        user_ids = [int(row["Id"]) for _, row in dump_rows(self.seed_dir / "Users.xml") if row]
        self.max_user_id = max(user_ids, default=0)
        idle = [u for u in user_ids if u != COMMUNITY_USER_ID and not self.owners[u]]
        self.deleted_users = {u for u in idle if self.random.random() < share * 4}
        self.edited_users = {u for u in user_ids if self.random.random() < share}
        self.new_user_ids = list(
            range(self.max_user_id + 1, self.max_user_id + 1 + self.spec.new_users)
        )
        self.active_users = [u for u in user_ids if u > 0 and u not in self.deleted_users]
        self.active_users += self.new_user_ids

    # --- the second pass: write each file ---------------------------------------------
    def write(self, out_dir: Path) -> RevisionCounts:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.tag_delta: Counter[str] = Counter()
        self.new_rows: dict[str, list[dict]] = {name: [] for name in DUMP_TABLES}
        self.plan_new_rows()
        order = ["Posts.xml"] + [n for n in self.present if n not in ("Posts.xml", "Tags.xml")]
        for name in [*order, "Tags.xml"]:
            if name in self.present:
                self.write_file(name, out_dir)
        return self.counts

    def plan_new_rows(self) -> None:
        self.plan_new_posts()
        self.counts.newest_time = self.clock

    def take_time(self) -> datetime:
        # Steps of about a day spread the new rows over the next quarter, so that the
        # revision is published after the dump it revises.
        self.clock += timedelta(minutes=self.random.randint(12 * 60, 48 * 60))
        return self.clock

    def text(self, words: int) -> str:
        return " ".join(self.random.choice(WORDS) for _ in range(words))

    def plan_new_posts(self) -> None:
        """New questions (each with a new tag and an old one), their answers, and answers
        to old questions; their history, comments and votes."""
        self.clock = self.newest
        next_id = self.max_post_id + 1
        self.answers_added: Counter[int] = Counter()
        old_tags = self.tags_in_use()
        for user_id in self.new_user_ids:
            created = self.take_time()
            self.new_rows["Users.xml"].append(
                dict(
                    Id=user_id,
                    Reputation=1,
                    CreationDate=created,
                    DisplayName=f"Newcomer {user_id}",
                    LastAccessDate=created,
                    Views=0,
                    UpVotes=0,
                    DownVotes=0,
                    AccountId=900_000 + user_id,
                )
            )
        for _ in range(self.spec.new_questions):
            question_id, next_id = next_id, next_id + 1
            tags = [self.spec.new_tag] + self.random.sample(old_tags, min(1, len(old_tags)))
            self.tag_delta.update(tags)
            answers = self.random.randint(0, 2)
            created = self.take_time()
            owner = self.random.choice(self.active_users)
            self.add_post(
                dict(
                    Id=question_id,
                    PostTypeId=1,
                    CreationDate=created,
                    Score=0,
                    ViewCount=1,
                    Body=f"<p>{self.text(12)}</p>\n",
                    OwnerUserId=owner,
                    LastActivityDate=created,
                    Title=f"{self.text(5).capitalize()} ?",
                    Tags=tags_value(tags, self.tag_style),
                    AnswerCount=answers,
                    CommentCount=0,
                    ContentLicense=LICENSES[-1],
                )
            )
            for _ in range(answers):
                next_id = self.add_answer(next_id, question_id)
        for question_id in self.answered:
            next_id = self.add_answer(next_id, question_id)
            self.answers_added[question_id] += 1

    def add_answer(self, answer_id: int, question_id: int) -> int:
        created = self.take_time()
        self.parent_of[answer_id] = question_id
        self.add_post(
            dict(
                Id=answer_id,
                PostTypeId=2,
                ParentId=question_id,
                CreationDate=created,
                Score=0,
                Body=f"<p>{self.text(15)}</p>\n",
                OwnerUserId=self.random.choice(self.active_users),
                LastActivityDate=created,
                CommentCount=0,
                ContentLicense=LICENSES[-1],
            )
        )
        return answer_id + 1

    def add_post(self, post: dict) -> None:
        self.new_rows["Posts.xml"].append(post)
        created, user = post["CreationDate"], post["OwnerUserId"]
        extras = {
            "PostHistory.xml": dict(
                PostHistoryTypeId=2,
                PostId=post["Id"],
                RevisionGUID=f"{self.random.getrandbits(128):032x}",
                CreationDate=created,
                UserId=user,
                Text=post["Body"],
                ContentLicense=LICENSES[-1],
            ),
            "Comments.xml": dict(
                PostId=post["Id"],
                Score=0,
                Text=self.text(6),
                CreationDate=created + timedelta(minutes=5),
                UserId=self.random.choice(self.active_users),
                ContentLicense=LICENSES[-1],
            ),
            "Votes.xml": dict(
                PostId=post["Id"],
                VoteTypeId=2,
                CreationDate=created.replace(hour=0, minute=0, second=0, microsecond=0)
                + timedelta(days=1),
            ),
        }
        for name, row in extras.items():
            self.new_rows[name].append(row)

    def tags_in_use(self) -> list[str]:
        if "Tags.xml" not in self.present:
            return []
        return sorted(
            row["TagName"]
            for _, row in dump_rows(self.seed_dir / "Tags.xml")
            if row and int(row.get("Count", 0)) > 0 and row["TagName"] != self.spec.new_tag
        )

    def write_file(self, name: str, out_dir: Path) -> None:
        table = DUMP_TABLES[name]
        indent, line_end, next_id = "  ", "\n", 1
        with (out_dir / name).open(
            "w", encoding="utf-8-sig" if _has_bom(self.seed_dir / name) else "utf-8", newline=""
        ) as out:
            for line, row in dump_rows(self.seed_dir / name):
                if row is None:
                    if line.strip() == f"</{table.root}>":
                        self.write_new_rows(name, out, indent, line_end, next_id)
                    out.write(line)
                    continue
                indent = line[: len(line) - len(line.lstrip())]
                line_end = line[len(line.rstrip("\r\n")) :]
                next_id = max(next_id, int(row["Id"]) + 1) if int(row["Id"]) < 10**9 else next_id
                revised = self.revise(name, row)
                if revised is None:
                    self.counts.deleted[name] += 1
                elif revised == row:
                    out.write(line)
                else:
                    self.counts.edited[name] += 1
                    out.write(row_line(revised, indent, line_end))

    def write_new_rows(self, name, out, indent, line_end, next_id) -> None:
        # Tags.xml is written last, when every question has said which tags it gains.
        rows = self.new_tags() if name == "Tags.xml" else self.new_rows[name]
        for row in rows:
            if name not in ("Posts.xml", "Users.xml"):
                row, next_id = {"Id": next_id, **row}, next_id + 1
            out.write(row_line(row, indent, line_end))
            self.counts.added[name] += 1

    def revise(self, name: str, row: dict) -> dict | None:
        """The row as the revision has it, or None when the revision deletes it."""
        post = int(row.get("PostId") or row.get("RelatedPostId") or 0)
        if name in ("PostHistory.xml", "Votes.xml", "Comments.xml") and post in self.deleted_posts:
            return None
        if name == "PostLinks.xml" and {int(row["PostId"]), int(row["RelatedPostId"])} & (
            self.deleted_posts
        ):
            return None
        if name == "Badges.xml" and int(row["UserId"]) in self.deleted_users:
            return None
        return getattr(self, f"revise_{DUMP_TABLES[name].name}", lambda r: r)(row)

    def revise_posts(self, row: dict) -> dict | None:
        post_id = int(row["Id"])
        if post_id in self.deleted_posts:
            if row.get("PostTypeId") == QUESTION:
                self.tag_delta.subtract(tags_of(row.get("Tags")))
            return None
        revised = dict(row)
        if row.get("PostTypeId") == QUESTION and "DeletionDate" not in row:
            count = int(row.get("AnswerCount", 0)) - self.answers_lost[post_id]
            count += self.answers_added[post_id]
            revised["AnswerCount"] = str(count)
        if post_id in self.edited_posts:
            revised["Score"] = str(int(row.get("Score", 0)) + self.random.randint(1, 5))
            revised["Body"] = row.get("Body", "") + f"<p>Edit: {self.text(4)}</p>\n"
        return revised

    def revise_users(self, row: dict) -> dict | None:
        user_id = int(row["Id"])
        if user_id in self.deleted_users:
            return None
        if user_id in self.edited_users:
            return {**row, "Reputation": str(int(row.get("Reputation", 1)) + 10)}
        return row

    def revise_comments(self, row: dict) -> dict | None:
        if self.random.random() < self.spec.share:
            return None
        if self.random.random() < self.spec.share:
            return {**row, "Score": str(int(row.get("Score", 0)) + 1)}
        return row

    def revise_votes(self, row: dict) -> dict | None:
        return None if self.random.random() < self.spec.share else row

    def revise_tags(self, row: dict) -> dict | None:
        count = int(row.get("Count", 0)) + self.tag_delta.pop(row["TagName"], 0)
        if count <= 0 and not row.get("WikiPostId") and not row.get("ExcerptPostId"):
            return None
        return {**row, "Count": str(max(count, 0))}

    def new_tags(self) -> list[dict]:
        return [
            {"TagName": tag, "Count": count}
            for tag, count in sorted(self.tag_delta.items())
            if count > 0
        ]


def write_dump_revision(seed_dir: Path, out_dir: Path, spec: RevisionSpec) -> RevisionCounts:
    """Write a revision of the dump in `seed_dir` (its XML files) into `out_dir`."""
    revision = Revision(seed_dir, spec)
    revision.survey()
    return revision.write(out_dir)
