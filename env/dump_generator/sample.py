"""A deterministic generator of schema-faithful StackExchange dumps.

It writes all eight files as the real dumps are written (BOM, one `<row/>` per line,
optional attributes left out, `&#xA;` for newlines) and keeps Stack Exchange's own
invariants: Tags.xml `Count` is the number of questions with that tag, and
`AnswerCount` is the number of answers. Rows are streamed, so memory stays flat
however large `questions` is.
"""

import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from dump_generator import SAMPLE_SITE
from lakehouse.schemas import DUMP_TABLES
from lakehouse.silver.users import COMMUNITY_USER_ID

TAG_NAMES = (
    "grammaire",
    "orthographe",
    "conjugaison",
    "vocabulaire",
    "étymologie",
    "prononciation",
    "traduction",
    "expressions",
    "syntaxe",
    "typographie",
    "subjonctif",
    "accord",
    "registre",
    "québécois",
    "anglicismes",
    "ponctuation",
    "pluriel",
    "genre",
    "中文",
    "emoji-🚲",
    "c++",
    "c#",
    ".net",
    "node.js",
)
WORDS = (
    "vélo",
    "chaîne",
    "dérailleur",
    "frein",
    "roue",
    "pneu",
    "selle",
    "guidon",
    "cadre",
    "question",
    "réponse",
    "pourquoi",
    "comment",
    "naïve",
    "Straße",
    "größe",
    "żółw",
    "自行车",
    "骑",
    "🚲",
    "☕",
    "tire",
    "brake",
    "gear",
    "spoke",
    "rim",
    "hub",
    "crank",
)
DISPLAY_NAMES = ("Zoë", "José", "Łukasz", "Ærøskøbing", "山田太郎", "Ольга", "user", "Ana")
LICENSES = ("CC BY-SA 2.5", "CC BY-SA 3.0", "CC BY-SA 4.0")
EPOCH = datetime(2012, 3, 1, 8, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Proportions:
    """How long a post is and how many rows of the other files it brings. Ranges are
    inclusive (random.randint). The defaults give the small sample the tests use."""

    body_paragraphs: tuple[int, int] = (1, 3)
    body_in_history: bool = False  # the initial-body revision holds the body, as in real dumps
    body_edits: tuple[int, int] = (0, 0)  # PostHistory rows that rewrite the body (type 5)
    comments: tuple[int, int] = (0, 2)
    comment_words: int = 8
    votes: tuple[int, int] = (0, 3)
    users_per_question: float = 0.5
    about_me_every: int = 2  # every n-th user has an AboutMe
    badges_per_user: tuple[int, int] | None = None  # None: one every fourth user
    link_share: float = 0.1  # questions linked to an earlier one
    dump_bytes_per_question: int = 4_000  # all eight files, a question with its answers


# Stack Overflow's rows per post and bytes per row (the 2024 dump: 50M posts, 133M
# history rows, 76M comments, 200M votes, 37M badges, 13M users, 7M links; Posts 80 GB,
# PostHistory 138 GB, Comments 22 GB, Votes 20 GB: SkobelevIgor/stackexchange-xml-converter).
STACK_OVERFLOW = Proportions(
    body_paragraphs=(3, 9),
    body_in_history=True,
    body_edits=(0, 2),
    comments=(0, 3),
    comment_words=20,
    votes=(2, 6),
    users_per_question=0.7,
    about_me_every=8,
    badges_per_user=(1, 5),
    link_share=0.37,
    dump_bytes_per_question=14_000,
)


@dataclass(frozen=True)
class SampleSpec:
    site: str = SAMPLE_SITE
    questions: int = 400
    seed: int = 42
    line_ending: str = "\n"
    tags_format: str = "mixed"  # "angle" (<a><b>), "pipe" (|a|b|, 2024 on) or "mixed"
    dump_date: datetime = datetime(2025, 12, 31, tzinfo=UTC)
    # The format changes of dumps published since 2024 (docs/dumps.md).
    encoding: str = "utf-8-sig"  # or "utf-8", "utf-16-le", "utf-16-be" (UTF-16 has a BOM)
    header_comment: bool = False  # a comment after the declaration (2024-06-30 on)
    shuffled_posts: bool = False  # Posts.xml rows not in Id order (2025-05 on)
    watermark_posts: bool = False  # the two fabricated posts (the 2025-06-30 dump only)
    deleted_share: float = 0.0  # posts carrying a DeletionDate (the first 2024-04 release)
    untagged_share: float = 0.0  # questions with no Tags attribute (some 2025-06 rows)
    new_attribute: str | None = None  # an attribute no schema knows yet, on questions and answers
    proportions: Proportions = Proportions()


# Each published format as generator options (docs/dumps.md), by the release
# that brought it; a format keeps what came before it unless it changed.
PUBLISHED_FORMATS: dict[str, dict] = {
    "2023-09": {"tags_format": "angle"},
    "2024-04": {"tags_format": "pipe", "encoding": "utf-16-le", "deleted_share": 0.05},
    "2024-06": {"tags_format": "pipe", "header_comment": True},
    "2025-05": {"tags_format": "pipe", "header_comment": True, "shuffled_posts": True},
    "2025-06": {"tags_format": "pipe", "header_comment": True, "shuffled_posts": True,
                "watermark_posts": True, "untagged_share": 0.05},
    "2025-12": {"tags_format": "pipe", "header_comment": True, "shuffled_posts": True},
}  # fmt: skip


def spec_for_format(release: str, **options) -> SampleSpec:
    """A sample in the format of `release` (a key of PUBLISHED_FORMATS)."""
    if release not in PUBLISHED_FORMATS:
        raise ValueError(f"no dump format {release!r}; known: {', '.join(PUBLISHED_FORMATS)}")
    return SampleSpec(**{**PUBLISHED_FORMATS[release], **options})


# The two posts Stack Exchange added to every site's Posts.xml of 2025-06-30: a question
# and its answer by the Community user, with Ids far above any real post's
# (meta.stackexchange.com/questions/412018). Tags.xml and PostHistory leave them out.
WATERMARK_QUESTION_ID, WATERMARK_ANSWER_ID = 1_000_000_001, 1_000_000_010
HEADER_COMMENT = (
    "<!-- Stack Exchange data dump. User contributions licensed under CC BY-SA; "
    "see ContentLicense on each row. -->"
)


def escape_value(value: str) -> str:
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\r", "&#xD;")
        .replace("\n", "&#xA;")
    )


def format_date(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"


def row_line(attributes: dict, indent: str, line_end: str) -> str:
    """One dump row line; None values are left out, as in the real dumps."""
    cells = " ".join(
        f'{name}="{escape_value(format_date(v) if isinstance(v, datetime) else str(v))}"'
        for name, v in attributes.items()
        if v is not None
    )
    return f"{indent}<row {cells} />{line_end}"


class _TableWriter:
    """Streams one dump file: BOM, prolog, root, one row per line."""

    def __init__(self, directory: Path, file_name: str, spec: SampleSpec, shuffle_with=None):
        self.table = DUMP_TABLES[file_name]
        self.line_ending = spec.line_ending
        self.next_id = 1
        self.rows = 0
        self.shuffle_with = shuffle_with  # a Random: rows are held and written shuffled
        self.held: list[str] = []
        utf16 = spec.encoding.startswith("utf-16")
        self.file = (directory / file_name).open("w", encoding=spec.encoding, newline="")
        if utf16:
            self.file.write("\ufeff")  # the byte-order mark; utf-16-le/-be write none
        declared = "utf-16" if utf16 else "utf-8"
        self.file.write(f'<?xml version="1.0" encoding="{declared}"?>{self.line_ending}')
        if spec.header_comment:
            self.file.write(HEADER_COMMENT + self.line_ending)
        self.file.write(f"<{self.table.root}>{self.line_ending}")

    def write(self, **attributes) -> None:
        """Write a row; None values are left out, as in the real dumps."""
        line = row_line(attributes, "  ", self.line_ending)
        if self.shuffle_with is None:
            self.file.write(line)
        else:
            self.held.append(line)
        self.rows += 1

    def take_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def close(self) -> None:
        if self.held:
            self.shuffle_with.shuffle(self.held)
            self.file.writelines(self.held)
        self.file.write(f"</{self.table.root}>")
        self.file.close()

    @property
    def bytes_written(self) -> int:
        return self.file.tell()


# About how many Posts.xml bytes one question of the small sample brings, with its answers.
POSTS_BYTES_PER_QUESTION = 1500


@dataclass(frozen=True)
class SizeTarget:
    """Write questions until the files (or only the file `only`) hold `bytes` bytes."""

    bytes: int
    only: str | None = None

    def questions(self, shape: Proportions) -> int:
        """About how many questions that takes (the users are written first)."""
        if self.only is not None:
            return self.bytes // POSTS_BYTES_PER_QUESTION
        return self.bytes // shape.dump_bytes_per_question

    def reached(self, writers: dict[str, "_TableWriter"]) -> bool:
        if self.only is not None:
            return writers[self.only].bytes_written >= self.bytes
        return sum(writer.bytes_written for writer in writers.values()) >= self.bytes


class _SampleDump:
    def __init__(self, spec: SampleSpec, directory: Path, target: "SizeTarget | None"):
        self.spec = spec
        self.shape = spec.proportions
        self.random = random.Random(spec.seed)
        shuffle = random.Random(spec.seed + 1) if spec.shuffled_posts else None
        self.writers = {
            name: _TableWriter(directory, name, spec, shuffle if name == "Posts.xml" else None)
            for name in DUMP_TABLES
        }
        questions = spec.questions if target is None else target.questions(self.shape)
        self.user_count = max(10, int(questions * self.shape.users_per_question))
        # Questions spread over the years before the dump date whatever the size: a larger
        # dump is denser, not longer, so no date runs past the dump's own, and the newest
        # rows are weeks old, so that the next quarter's rows come after the dump date.
        self.last_question_at = spec.dump_date - timedelta(days=30)
        span = self.last_question_at - EPOCH
        self.question_gap = span * 0.95 / max(1, questions)
        self.user_gap = min(timedelta(hours=1), span / 10 / self.user_count)
        self.clock = EPOCH
        self.tag_counts: Counter[str] = Counter()
        self.question_ids: list[int] = []

    def tick(self) -> datetime:
        """The next question's creation time."""
        step = self.question_gap * (self.random.randint(1, 240) / 120.5)
        step += timedelta(milliseconds=self.random.randint(0, 999))
        self.clock = min(self.clock + step, self.last_question_at)
        return self.clock

    def text(self, words: int) -> str:
        return " ".join(self.random.choice(WORDS) for _ in range(words))

    def body(self) -> str:
        paragraphs = [
            f"<p>{self.text(self.random.randint(5, 40))} &amp; «{self.random.choice(WORDS)}»</p>"
            for _ in range(self.random.randint(*self.shape.body_paragraphs))
        ]
        if self.random.random() < 0.3:
            paragraphs.append(f"<pre><code>x = 1 &lt; 2\n{self.text(3)}\n</code></pre>")
        return "\n\n".join(paragraphs) + "\n"

    def owner(self) -> dict:
        """An existing user, the Community user, or a deleted one (a name, no id)."""
        roll = self.random.random()
        if roll < 0.05:
            return {"OwnerDisplayName": f"user{self.random.randint(10_000, 99_999)}"}
        if roll < 0.07:
            return {"OwnerUserId": COMMUNITY_USER_ID}
        return {"OwnerUserId": self.random.randint(1, self.user_count)}

    def tags_attribute(self, tags: list[str], question_id: int) -> str:
        style = self.spec.tags_format
        if style == "mixed":
            style = "pipe" if question_id % 2 else "angle"
        if style == "pipe":
            return "|" + "|".join(tags) + "|"
        return "".join(f"<{tag}>" for tag in tags)

    def write_users(self) -> None:
        users = self.writers["Users.xml"]
        users.write(
            Id=COMMUNITY_USER_ID,
            Reputation=1,
            CreationDate=EPOCH,
            DisplayName="Community",
            LastAccessDate=EPOCH,
            WebsiteUrl="https://meta.stackexchange.com/",
            Location="on the server farm",
            AboutMe="<p>Hi, I'm not really a person.</p>\n",
            Views=0,
            UpVotes=100,
            DownVotes=10,
            AccountId=-1,
        )
        for user_id in range(1, self.user_count + 1):
            created = EPOCH + user_id * self.user_gap
            users.write(
                Id=user_id,
                Reputation=self.random.randint(1, 20_000),
                CreationDate=created,
                DisplayName=f"{self.random.choice(DISPLAY_NAMES)} {user_id}",
                LastAccessDate=created + timedelta(days=self.random.randint(0, 900)),
                WebsiteUrl=f"https://example.org/~{user_id}" if user_id % 3 == 0 else None,
                Location=self.random.choice(("Paris", "Montréal", "東京", None)),
                AboutMe=self.body() if user_id % self.shape.about_me_every == 0 else None,
                Views=self.random.randint(0, 500),
                UpVotes=self.random.randint(0, 300),
                DownVotes=self.random.randint(0, 30),
                AccountId=100_000 + user_id,
            )
            for _ in range(self.badge_count(user_id)):
                self.writers["Badges.xml"].write(
                    Id=self.writers["Badges.xml"].take_id(),
                    UserId=user_id,
                    Name=self.random.choice(("Autobiographer", "Teacher", "Student", "grammaire")),
                    Date=created + timedelta(days=1),
                    Class=self.random.choice((1, 2, 3)),
                    TagBased=self.random.choice(("True", "False")),
                )

    def badge_count(self, user_id: int) -> int:
        if self.shape.badges_per_user is None:
            return int(user_id % 4 == 0)
        return self.random.randint(*self.shape.badges_per_user)

    def revisions(
        self, body: str, title: str | None, tags: str | None
    ) -> list[tuple[int, str | None]]:
        """PostHistory's (type, text) rows of a post: its initial body, title and tags,
        then the edits of its body."""
        initial_body = body if self.shape.body_in_history else self.text(12)
        revisions = [(2, initial_body)] + ([(1, title), (3, tags)] if title else [])
        if self.shape.body_edits != (0, 0):  # The small sample draws nothing here.
            edits = self.random.randint(*self.shape.body_edits)
            revisions += [(5, self.body()) for _ in range(edits)]
        return revisions

    def write_post_extras(
        self,
        post_id: int,
        created: datetime,
        owner: dict,
        body: str,
        title: str | None,
        tags: str | None,
    ) -> None:
        history = self.writers["PostHistory.xml"]
        user = {
            "UserId": owner.get("OwnerUserId"),
            "UserDisplayName": owner.get("OwnerDisplayName"),
        }
        for type_id, text in self.revisions(body, title, tags):
            history.write(
                Id=history.take_id(),
                PostHistoryTypeId=type_id,
                PostId=post_id,
                RevisionGUID=f"{self.random.getrandbits(128):032x}",
                CreationDate=created,
                **user,
                Text=text,
                ContentLicense=self.random.choice(LICENSES),
            )
        for _ in range(self.random.randint(*self.shape.comments)):
            comments = self.writers["Comments.xml"]
            comments.write(
                Id=comments.take_id(),
                PostId=post_id,
                Score=self.random.randint(0, 5),
                Text=self.text(self.shape.comment_words),
                CreationDate=created + timedelta(hours=2),
                UserId=self.random.randint(1, self.user_count),
                ContentLicense=self.random.choice(LICENSES),
            )
        for _ in range(self.random.randint(*self.shape.votes)):
            votes = self.writers["Votes.xml"]
            vote_type = self.random.choice((2, 2, 2, 3, 5, 8))
            votes.write(
                Id=votes.take_id(),
                PostId=post_id,
                VoteTypeId=vote_type,
                UserId=self.random.randint(1, self.user_count) if vote_type in (5, 8) else None,
                CreationDate=datetime.combine(created.date() + timedelta(days=1), time(), UTC),
                BountyAmount=50 if vote_type == 8 else None,
            )

    def roll(self, share: float) -> bool:
        """True with probability `share`; draws nothing when it is 0, so the default
        sample stays byte for byte what it was."""
        return bool(share) and self.random.random() < share

    def format_extras(self, deleted_at: datetime | None) -> dict:
        """Attributes that some published formats add to a post row."""
        extras: dict[str, object] = {"DeletionDate": deleted_at}
        if self.spec.new_attribute:
            extras[self.spec.new_attribute] = 1
        return extras

    def write_question(self) -> None:
        posts = self.writers["Posts.xml"]
        question_id = posts.take_id()
        answer_count = self.random.choice((0, 0, 1, 1, 1, 2, 2, 3, 5))
        answer_ids = [posts.take_id() for _ in range(answer_count)]
        tags = self.random.sample(TAG_NAMES, self.random.randint(1, 4))
        created = self.tick()
        if self.roll(self.spec.untagged_share):
            tags = []
        # A deleted question takes its answers with it; Tags.xml and AnswerCount count
        # only posts that are not deleted.
        question_deleted = self.roll(self.spec.deleted_share)
        answers_deleted = [
            question_deleted or self.roll(self.spec.deleted_share) for _ in answer_ids
        ]
        if not question_deleted:
            self.tag_counts.update(tags)
        owner = self.owner()
        title = f"{self.text(self.random.randint(3, 9)).capitalize()} ?"
        tags_value = self.tags_attribute(tags, question_id) if tags else None
        deleted_at = created + timedelta(days=5) if question_deleted else None
        posts.write(
            Id=question_id,
            PostTypeId=1,
            AcceptedAnswerId=answer_ids[0] if answer_ids and self.random.random() < 0.4 else None,
            CreationDate=created,
            Score=self.random.randint(-3, 40),
            ViewCount=self.random.randint(5, 5000),
            Body=(body := self.body()),  # drawn here: the sample's bytes depend on the order
            **owner,
            LastActivityDate=created + timedelta(days=3),
            Title=title,
            Tags=tags_value,
            AnswerCount=answers_deleted.count(False),
            CommentCount=self.random.randint(0, 4),
            FavoriteCount=self.random.choice((None, 0, 1, 3)),
            ClosedDate=created + timedelta(days=2) if self.random.random() < 0.03 else None,
            ContentLicense=self.random.choice(LICENSES),
            **self.format_extras(deleted_at),
        )
        self.write_post_extras(question_id, created, owner, body, title, tags_value)
        if self.question_ids and self.random.random() < self.shape.link_share:
            links = self.writers["PostLinks.xml"]
            links.write(
                Id=links.take_id(),
                CreationDate=created,
                PostId=question_id,
                RelatedPostId=self.random.choice(self.question_ids[-50:]),
                LinkTypeId=self.random.choice((1, 3)),
            )
        self.question_ids.append(question_id)
        del self.question_ids[:-50]
        for answer_id, deleted in zip(answer_ids, answers_deleted, strict=True):
            answered = created + timedelta(minutes=self.random.randint(1, 3000))
            answer_owner = self.owner()
            posts.write(
                Id=answer_id,
                PostTypeId=2,
                ParentId=question_id,
                CreationDate=answered,
                Score=self.random.randint(-2, 30),
                Body=(answer_body := self.body()),
                **answer_owner,
                LastActivityDate=answered,
                CommentCount=self.random.randint(0, 3),
                ContentLicense=self.random.choice(LICENSES),
                **self.format_extras(answered + timedelta(days=5) if deleted else None),
            )
            self.write_post_extras(answer_id, answered, answer_owner, answer_body, None, None)

    def write_watermark_posts(self) -> None:
        """The two fabricated posts of the 2025-06-30 dumps: no history, not in Tags.xml."""
        posts = self.writers["Posts.xml"]
        created = self.last_question_at
        posts.write(
            Id=WATERMARK_QUESTION_ID,
            PostTypeId=1,
            CreationDate=created,
            Score=3,
            ViewCount=42,
            Body="<p>Bicycles were invented in 1492 by the Moon.</p>\n",
            OwnerUserId=COMMUNITY_USER_ID,
            LastActivityDate=created,
            Title="Why do bicylces have three wheels ?",
            Tags=self.tags_attribute([sorted(self.tag_counts)[0]], WATERMARK_QUESTION_ID)
            if self.tag_counts
            else None,
            AnswerCount=1,
            CommentCount=0,
            ContentLicense="CC BY-SA 4.0",
        )
        posts.write(
            Id=WATERMARK_ANSWER_ID,
            PostTypeId=2,
            ParentId=WATERMARK_QUESTION_ID,
            CreationDate=created,
            Score=1,
            Body="<p>Becuase the Moon said so.</p>\n",
            OwnerUserId=COMMUNITY_USER_ID,
            LastActivityDate=created,
            CommentCount=0,
            ContentLicense="CC BY-SA 4.0",
        )

    def write_tags(self) -> None:
        posts, tags = self.writers["Posts.xml"], self.writers["Tags.xml"]
        for index, name in enumerate(sorted(self.tag_counts)):
            wiki = {}
            if index % 3 == 0:  # Tag wikis are posts (types 4 and 5) owned by Community.
                excerpt_id, wiki_id = posts.take_id(), posts.take_id()
                for post_id, type_id in ((excerpt_id, 4), (wiki_id, 5)):
                    posts.write(
                        Id=post_id,
                        PostTypeId=type_id,
                        CreationDate=self.tick(),
                        Score=0,
                        Body=f"<p>{name}</p>\n",
                        OwnerUserId=COMMUNITY_USER_ID,
                        LastActivityDate=self.clock,
                        CommentCount=0,
                        ContentLicense="CC BY-SA 4.0",
                    )
                wiki = {"ExcerptPostId": excerpt_id, "WikiPostId": wiki_id}
            tags.write(
                Id=tags.take_id(),
                TagName=name,
                Count=self.tag_counts[name],
                **wiki,
                IsModeratorOnly="True" if name == "typographie" else None,
                IsRequired="True" if name == "grammaire" else None,
            )

    def write(self, target: "SizeTarget | None") -> dict[str, int]:
        self.write_users()
        written = 0
        while written < self.spec.questions if target is None else not target.reached(self.writers):
            self.write_question()
            written += 1
        if self.spec.watermark_posts:
            self.write_watermark_posts()
        self.write_tags()
        for writer in self.writers.values():
            writer.close()
        return {name: writer.rows for name, writer in self.writers.items()}


def write_sample_dump(
    spec: SampleSpec,
    directory: Path,
    target_posts_bytes: int | None = None,
    target_dump_bytes: int | None = None,
) -> dict[str, int]:
    """Write the eight XML files into `directory`; return the row count of each file.

    With `target_posts_bytes`, questions are added until Posts.xml reaches that size;
    with `target_dump_bytes`, until the eight files together do.
    """
    directory.mkdir(parents=True, exist_ok=True)
    target = None
    if target_posts_bytes is not None:
        target = SizeTarget(target_posts_bytes, only="Posts.xml")
    elif target_dump_bytes is not None:
        target = SizeTarget(target_dump_bytes)
    return _SampleDump(spec, directory, target).write(target)


def pack_sample_dump(spec: SampleSpec, directory: Path, archive: Path) -> Path:
    """Write the dump and pack it as archive.org does: `<site>.7z`, the files at its root."""
    write_sample_dump(spec, directory)
    _pack(spec, {archive: [directory / name for name in DUMP_TABLES]})
    return archive


def pack_sample_dump_per_table(spec: SampleSpec, directory: Path, folder: Path) -> list[Path]:
    """Write the dump and pack it as Stack Overflow was until 2025: one archive per table,
    `<site>-Posts.7z` holding `Posts.xml`, and so on."""
    write_sample_dump(spec, directory)
    archives = {
        folder / f"{spec.site}-{name.removesuffix('.xml')}.7z": [directory / name]
        for name in DUMP_TABLES
    }
    _pack(spec, archives)
    return list(archives)


def _pack(spec: SampleSpec, archives: dict[Path, list[Path]]) -> None:
    for archive, files in archives.items():
        pack_files(files, archive, spec.dump_date)


def pack_files(files: list[Path], archive: Path, dated: datetime) -> Path:
    """Pack `files` at the root of `archive`, every time stamp set to `dated`."""
    import os

    import py7zr

    # Fixed file times make the archive, and so the dump_id, the same on every machine.
    stamp = (dated.timestamp(), dated.timestamp())
    for path in files:
        os.utime(path, stamp)
    archive.parent.mkdir(parents=True, exist_ok=True)
    partial = archive.with_suffix(".7z.partial")
    with py7zr.SevenZipFile(partial, "w") as packed:
        for path in files:
            packed.write(path, arcname=path.name)
    partial.replace(archive)
    os.utime(archive, stamp)
    return archive
