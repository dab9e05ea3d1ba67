"""Explicit schemas of the eight dump tables, after the public SEDE schema documentation.

Each attribute keeps its name in the dump and gets a snake_case column and a type.
Attributes the dump leaves out are null; attributes not listed here are kept in
`_rescued_data`, so nothing in a row is ever dropped.
"""

import re
from dataclasses import dataclass

# Every time stamp a row line has: CreationDate, LastAccessDate, a badge's Date, and so
# on (the literal start lets a search skip ahead). Ingest dates an undated dump by it.
ROW_TIME = re.compile(rb'Date="(\d{4}-\d\d-\d\dT[0-9:.]+)"')

# Spark SQL type names; the Arrow types used while parsing follow from these.
LONG, INT, STRING, TIMESTAMP, BOOLEAN = "bigint", "int", "string", "timestamp", "boolean"


@dataclass(frozen=True)
class Attribute:
    """One XML attribute of a dump table and its type."""

    name: str
    type: str

    @property
    def column(self) -> str:
        """The attribute's column name in bronze (snake_case)."""
        return snake_case(self.name)


@dataclass(frozen=True)
class DumpTable:
    """A dump file: its root element and attributes, and the bronze table they become."""

    file_name: str
    root: str
    attributes: tuple[Attribute, ...]

    @property
    def name(self) -> str:
        """The bronze table's name, e.g. `post_history` for PostHistory.xml."""
        return snake_case(self.file_name.removesuffix(".xml"))

    @property
    def columns(self) -> list[str]:
        """The bronze column of each attribute, in the file's order."""
        return [attribute.column for attribute in self.attributes]


def snake_case(name: str) -> str:
    """PostTypeId -> post_type_id, RevisionGUID -> revision_guid."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", words).lower()


def _table(file_name: str, root: str, *attributes: tuple[str, str]) -> DumpTable:
    return DumpTable(file_name, root, tuple(Attribute(n, t) for n, t in attributes))


POSTS = _table(
    "Posts.xml", "posts",
    ("Id", LONG), ("PostTypeId", INT), ("AcceptedAnswerId", LONG), ("ParentId", LONG),
    ("CreationDate", TIMESTAMP), ("DeletionDate", TIMESTAMP), ("Score", INT),
    ("ViewCount", INT), ("Body", STRING), ("OwnerUserId", LONG), ("OwnerDisplayName", STRING),
    ("LastEditorUserId", LONG), ("LastEditorDisplayName", STRING), ("LastEditDate", TIMESTAMP),
    ("LastActivityDate", TIMESTAMP), ("Title", STRING), ("Tags", STRING), ("AnswerCount", INT),
    ("CommentCount", INT), ("FavoriteCount", INT), ("ClosedDate", TIMESTAMP),
    ("CommunityOwnedDate", TIMESTAMP), ("ContentLicense", STRING),
)  # fmt: skip
USERS = _table(
    "Users.xml", "users",
    ("Id", LONG), ("Reputation", INT), ("CreationDate", TIMESTAMP), ("DisplayName", STRING),
    ("LastAccessDate", TIMESTAMP), ("WebsiteUrl", STRING), ("Location", STRING),
    ("AboutMe", STRING), ("Views", INT), ("UpVotes", INT), ("DownVotes", INT),
    ("ProfileImageUrl", STRING), ("AccountId", LONG),
)  # fmt: skip
COMMENTS = _table(
    "Comments.xml", "comments",
    ("Id", LONG), ("PostId", LONG), ("Score", INT), ("Text", STRING),
    ("CreationDate", TIMESTAMP), ("UserDisplayName", STRING), ("UserId", LONG),
    ("ContentLicense", STRING),
)  # fmt: skip
VOTES = _table(
    "Votes.xml", "votes",
    ("Id", LONG), ("PostId", LONG), ("VoteTypeId", INT), ("UserId", LONG),
    ("CreationDate", TIMESTAMP), ("BountyAmount", INT),
)  # fmt: skip
BADGES = _table(
    "Badges.xml", "badges",
    ("Id", LONG), ("UserId", LONG), ("Name", STRING), ("Date", TIMESTAMP), ("Class", INT),
    ("TagBased", BOOLEAN),
)  # fmt: skip
TAGS = _table(
    "Tags.xml", "tags",
    ("Id", LONG), ("TagName", STRING), ("Count", INT), ("ExcerptPostId", LONG),
    ("WikiPostId", LONG), ("IsModeratorOnly", BOOLEAN), ("IsRequired", BOOLEAN),
)  # fmt: skip
POST_LINKS = _table(
    "PostLinks.xml", "postlinks",
    ("Id", LONG), ("CreationDate", TIMESTAMP), ("PostId", LONG), ("RelatedPostId", LONG),
    ("LinkTypeId", INT),
)  # fmt: skip
POST_HISTORY = _table(
    "PostHistory.xml", "posthistory",
    ("Id", LONG), ("PostHistoryTypeId", INT), ("PostId", LONG), ("RevisionGUID", STRING),
    ("CreationDate", TIMESTAMP), ("UserId", LONG), ("UserDisplayName", STRING),
    ("Comment", STRING), ("Text", STRING), ("ContentLicense", STRING),
)  # fmt: skip

DUMP_TABLES: dict[str, DumpTable] = {
    table.file_name: table
    for table in (POSTS, USERS, COMMENTS, VOTES, BADGES, TAGS, POST_LINKS, POST_HISTORY)
}
REQUIRED_FILES = ("Posts.xml", "Users.xml")


def table_for_file(file_name: str) -> DumpTable:
    """The dump table of a file name, or ValueError naming the known ones."""
    try:
        return DUMP_TABLES[file_name]
    except KeyError:
        raise ValueError(
            f"{file_name!r} is not one of the dump's files: {', '.join(DUMP_TABLES)}"
        ) from None
