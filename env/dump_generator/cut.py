"""An earlier dump of a site, made from a later one the way a real earlier dump differs:
every row of every table dated after a cut removed (posts with their answers, comments,
votes, history, links and badges, and the users who joined since), what the remaining
rows said then (each question's AnswerCount and each post's CommentCount without what
came later; no activity, access, edit, closing or accepted answer after the cut), plus
a few questions that were there then and deleted later, and a few questions that were
retagged since. Posts deleted after the cut are left out: what they said then is not
in the later dump.

Stack Exchange's invariants hold in the result: Tags.xml `Count` is the number of live
questions carrying the tag, and each live question's `AnswerCount` its live answers. The
files keep the later dump's format, and an unchanged row is copied byte for byte
(dump_generator.revision, whose file writer this reuses).
"""

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dump_generator.revision import (
    ANSWER,
    QUESTION,
    Revision,
    RevisionCounts,
    RevisionSpec,
    dump_rows,
    tags_of,
    tags_value,
)
from dump_generator.sample import COMMUNITY_USER_ID, LICENSES, WATERMARK_QUESTION_ID, format_date

# The attributes a row is dated by: when it was created, or a badge's award.
_ROW_DATES = ("CreationDate", "Date")
# Times that move with later activity; in the earlier dump they stop at the cut.
_CLAMPED = ("LastActivityDate", "LastAccessDate")
# Events after the cut had not happened: each time with the attributes it goes with.
_NOT_YET = {
    "LastEditDate": ("LastEditDate", "LastEditorUserId", "LastEditorDisplayName"),
    "ClosedDate": ("ClosedDate",),
    "CommunityOwnedDate": ("CommunityOwnedDate",),
}


@dataclass(frozen=True)
class CutSpec:
    cut: datetime  # rows dated after this are removed
    seed: int = 11
    deleted_later: int = 3  # questions the earlier dump has and the later one lost
    retagged: int = 3  # questions whose tags changed since


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _after(row: dict, cut: datetime, dates=_ROW_DATES) -> bool:
    return any(row.get(name) and _time(row[name]) > cut for name in dates)


class _Cut(Revision):
    def __init__(self, later_dir: Path, spec: CutSpec):
        super().__init__(later_dir, RevisionSpec(seed=spec.seed))
        self.cut_spec, self.cut = spec, spec.cut.astimezone(UTC)

    def survey(self) -> None:
        self.tag_style = None
        self.deleted_posts: set[int] = set()
        self.answers_lost: Counter[int] = Counter()
        self.post_ids: set[int] = set()
        self.parent_of: dict[int, int] = {}
        kept_questions: list[tuple[int, list[str]]] = []
        posts = [row for _, row in dump_rows(self.seed_dir / "Posts.xml") if row]
        for row in posts:
            self.post_ids.add(int(row["Id"]))
            if row.get("ParentId"):
                self.parent_of[int(row["Id"])] = int(row["ParentId"])
        for row in posts:
            post_id = int(row["Id"])
            removed = (
                _after(row, self.cut, ("CreationDate", "DeletionDate"))
                or self.parent_of.get(post_id) in self.deleted_posts
            )
            live = "DeletionDate" not in row and post_id < WATERMARK_QUESTION_ID
            if removed:
                self.deleted_posts.add(post_id)
                if row.get("PostTypeId") == ANSWER and live and post_id in self.parent_of:
                    self.answers_lost[self.parent_of[post_id]] += 1
            elif row.get("PostTypeId") == QUESTION and live and row.get("Tags"):
                kept_questions.append((post_id, tags_of(row["Tags"])))
                self.tag_style = self.tag_style or row["Tags"]
        # A question created after the cut may have older answers (a merge, a migration).
        for answer, question in self.parent_of.items():
            if question in self.deleted_posts and answer not in self.deleted_posts:
                self.deleted_posts.add(answer)
        self.comments_lost: Counter[int] = Counter()
        if "Comments.xml" in self.present:
            for _, row in dump_rows(self.seed_dir / "Comments.xml"):
                post = int(row["PostId"]) if row and row.get("PostId") else None
                if post and (_after(row, self.cut) or post in self.deleted_posts):
                    self.comments_lost[post] += 1
        users = [row for _, row in dump_rows(self.seed_dir / "Users.xml") if row]
        self.deleted_users = {
            int(u["Id"]) for u in users if int(u["Id"]) != COMMUNITY_USER_ID and _after(u, self.cut)
        }
        self.active_users = [
            int(u["Id"])
            for u in users
            if int(u["Id"]) > 0 and int(u["Id"]) not in self.deleted_users
        ] or [COMMUNITY_USER_ID]
        self.tags_kept = sorted({tag for _, tags in kept_questions for tag in tags})
        self.retags = self.plan_retags(kept_questions)

    def plan_retags(self, questions: list[tuple[int, list[str]]]) -> dict[int, list[str]]:
        """For a few questions, the tags they had before one was swapped for another."""
        in_use = self.tags_kept
        chosen = self.random.sample(questions, min(len(questions), self.cut_spec.retagged))
        retags = {}
        for question, tags in chosen:
            others = [tag for tag in in_use if tag not in tags]
            if others:
                retags[question] = [*tags[:-1], self.random.choice(others)]
        return retags

    def plan_new_rows(self) -> None:
        """The questions the later dump lost: Ids it does not have, asked before the cut."""
        self.counts.newest_time = self.cut
        in_use = self.tags_kept
        missing = sorted(set(range(1, self.highest_post_id() + 1)) - self.post_ids)
        ids = missing[: self.cut_spec.deleted_later]
        ids += range(
            self.highest_post_id() + 1,
            self.highest_post_id() + 1 + self.cut_spec.deleted_later - len(ids),
        )
        for question_id in ids:
            created = self.cut - timedelta(hours=self.random.randint(2, 24 * 30))
            tags = self.random.sample(in_use, min(2, len(in_use)))
            self.tag_delta.update(tags)
            owner = self.random.choice(self.active_users)
            body = f"<p>{self.text(12)}</p>\n"
            self.new_rows["Posts.xml"].append(
                dict(
                    Id=question_id,
                    PostTypeId=1,
                    CreationDate=format_date(created),
                    Score=0,
                    ViewCount=1,
                    Body=body,
                    OwnerUserId=owner,
                    LastActivityDate=format_date(created),
                    Title=f"{self.text(5).capitalize()} ?",
                    Tags=tags_value(tags, self.tag_style),
                    AnswerCount=0,
                    CommentCount=0,
                    ContentLicense=LICENSES[-1],
                )
            )
            self.new_rows["PostHistory.xml"].append(
                dict(
                    PostHistoryTypeId=2,
                    PostId=question_id,
                    RevisionGUID=f"{self.random.getrandbits(128):032x}",
                    CreationDate=format_date(created),
                    UserId=owner,
                    Text=body,
                    ContentLicense=LICENSES[-1],
                )
            )

    def highest_post_id(self) -> int:
        return max((i for i in self.post_ids if i < WATERMARK_QUESTION_ID), default=0)

    def revise(self, name: str, row: dict) -> dict | None:
        if _after(row, self.cut):
            if name == "Posts.xml" and row.get("PostTypeId") == QUESTION:
                self.lose_tags_of(row)
            return None
        revised = super().revise(name, row)
        if revised is None:
            return None
        clamped = {
            key: format_date(self.cut)
            for key in _CLAMPED
            if row.get(key) and _time(row[key]) > self.cut
        }
        return {**revised, **clamped} if clamped else revised

    def lose_tags_of(self, row: dict) -> None:
        if "DeletionDate" not in row and int(row["Id"]) < WATERMARK_QUESTION_ID:
            self.tag_delta.subtract(tags_of(row.get("Tags")))

    def revise_posts(self, row: dict) -> dict | None:
        post_id = int(row["Id"])
        if post_id in self.deleted_posts:
            if row.get("PostTypeId") == QUESTION:
                self.lose_tags_of(row)
            return None
        revised = dict(row)
        if self.answers_lost[post_id] and "AnswerCount" in row:
            revised["AnswerCount"] = str(int(row["AnswerCount"]) - self.answers_lost[post_id])
        if self.comments_lost[post_id] and "CommentCount" in row:
            revised["CommentCount"] = str(int(row["CommentCount"]) - self.comments_lost[post_id])
        if row.get("AcceptedAnswerId") and int(row["AcceptedAnswerId"]) in self.deleted_posts:
            del revised["AcceptedAnswerId"]
        for when, attributes in _NOT_YET.items():
            if _after(row, self.cut, (when,)):
                for attribute in attributes:
                    revised.pop(attribute, None)
        if post_id in self.retags:
            self.tag_delta.subtract(tags_of(row["Tags"]))
            self.tag_delta.update(self.retags[post_id])
            revised["Tags"] = tags_value(self.retags[post_id], row["Tags"])
        return revised

    def revise_users(self, row: dict) -> dict | None:
        return None if int(row["Id"]) in self.deleted_users else row

    def revise_comments(self, row: dict) -> dict | None:
        return row

    def revise_votes(self, row: dict) -> dict | None:
        return row

    def revise_tags(self, row: dict) -> dict | None:
        kept = {
            key: value
            for key, value in row.items()
            if key not in ("WikiPostId", "ExcerptPostId") or int(value) not in self.deleted_posts
        }
        return super().revise_tags(kept)


def write_earlier_dump(later_dir: Path, out_dir: Path, spec: CutSpec) -> RevisionCounts:
    """Write into `out_dir` the dump of `later_dir` (its XML files) as it stood at
    `spec.cut`; the counts say, per file, the rows it added, edited and removed."""
    cut = _Cut(later_dir, spec)
    cut.survey()
    return cut.write(out_dir)


def cut_leaving(later_dir: Path, share: float) -> datetime:
    """A cut that removes about `share` of the posts: the creation time of the post at
    that share from the newest."""
    created = sorted(
        _time(row["CreationDate"])
        for _, row in dump_rows(later_dir / "Posts.xml")
        if row and int(row["Id"]) < WATERMARK_QUESTION_ID
    )
    return created[int(len(created) * (1 - share))] - timedelta(seconds=1)
