"""What the tests of the real dumps share: Stack Exchange's own numbers checked in a lake
(the rows the README gives for each dump, the Tags Count and AnswerCount in its files),
and for the refresh, dumps dated by a `_files.xml` and the tables of two lakes compared
row by row.

The refresh's earlier dump is the real one cut at a date by the project's generator
(dump_generator.cut: rows dated after it removed, counts as they stood, a few questions
deleted since and a few retagged), so the refresh adds, changes and deletes rows. The
oracle is a load of the real dump alone, in another bucket.
"""

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import py7zr
from lxml import etree
from pipeline_helpers import run_pipeline
from pyspark.sql import functions as F

from archives import files_xml
from conftest import absent
from lakehouse.lake import Lake
from lakehouse.schemas import DUMP_TABLES
from lakehouse.steps import TABLES
from lakehouse.tables import DQ_RESULTS, DUMP_LOADS, ROW_LINEAGE, STEP_RUNS
from worker.ingest.ingest_dump import ingest_dump
from worker.ingest.sources import LocalArchive

# Tables that keep one entry per dump or per check run, by design, not a current state.
HISTORY_TABLES = {DUMP_LOADS, ROW_LINEAGE, STEP_RUNS, DQ_RESULTS}
# Columns that say when and from where a row was written, not what it holds.
WRITE_LINEAGE = {"dump_id", "source_file", "ingested_at", "_row_hash", "run_id", "run_time"}
EARLIER = 1_600_000_000  # a _files.xml mtime: 2020-09, before either real dump
# Rows per file of the real dumps, from ../shared/stackexchange/README.md, in FILE_ORDER.
PUBLISHED_ROWS = {
    "french.meta.stackexchange.com": (781, 1703, 1305, 4349, 4002, 94, 134, 2881),
    "bicycles.meta.stackexchange.com": (1446, 2551, 2448, 5671, 6585, 94, 189, 3994),
}
FILE_ORDER = (
    "Posts.xml",
    "Users.xml",
    "Comments.xml",
    "Votes.xml",
    "Badges.xml",
    "Tags.xml",
    "PostLinks.xml",
    "PostHistory.xml",
)


def extracted_rows(archive: Path, xml_dir: Path) -> dict[str, list[dict]]:
    """Extract the archive into `xml_dir`; per file, each row's attributes (read by lxml,
    not by the pipeline's parser)."""
    with py7zr.SevenZipFile(archive) as packed:
        packed.extractall(xml_dir)
    return {
        name: [dict(row.attrib) for _, row in etree.iterparse(str(xml_dir / name), tag="row")]
        for name in DUMP_TABLES
    }


def pack_listed(xml_dir: Path, archive: Path, mtime: int) -> Path:
    """`<site>.7z` of the XML files, with a `_files.xml` beside it that dates it."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with py7zr.SevenZipFile(archive, "w") as packed:
        for name in DUMP_TABLES:
            if (xml_dir / name).exists():
                packed.write(xml_dir / name, arcname=name)
    listing = files_xml({archive.name: archive.read_bytes()}, mtime=mtime)
    (archive.parent / "release_files.xml").write_text(listing)
    return archive


def post_rows(xml_dir: Path) -> dict[int, dict]:
    return {
        int(row.get("Id")): dict(row.attrib)
        for _, row in etree.iterparse(str(xml_dir / "Posts.xml"), tag="row")
    }


def comparable(df):
    """The table's content: write-lineage columns dropped, maps and structs as JSON (set
    operations refuse maps), DQX results reduced to the names of the rules."""
    columns = []
    for field in df.schema.fields:
        if field.name in WRITE_LINEAGE:
            continue
        if field.name in ("_errors", "_warnings"):
            columns.append(F.transform(F.col(field.name), lambda r: r["name"]).alias(field.name))
        elif field.dataType.typeName() in ("map", "struct"):
            columns.append(F.to_json(F.col(f"`{field.name}`")).alias(field.name))
        else:
            columns.append(F.col(f"`{field.name}`"))
    return df.select(*columns)


def differences(refreshed: Lake, fresh: Lake, site: str) -> dict[str, tuple[int, int]]:
    """Per current table, (rows only in the refreshed lake, rows only in the fresh one)."""
    found = {}
    for name in TABLES:
        if name in HISTORY_TABLES or name.startswith("staging."):
            continue
        ours = comparable(refreshed.read(name).where(F.col("site") == site))
        theirs = comparable(fresh.read(name).where(F.col("site") == site))
        extra, missing = ours.exceptAll(theirs).count(), theirs.exceptAll(ours).count()
        if extra or missing:
            found[name] = (extra, missing)
    return found


def lake_in_bucket(spark, settings, bucket: str) -> Lake:
    """A lake of its own, so that no other test's load of the same site interferes."""
    from worker.ingest.raw_store import ensure_bucket, s3_client

    own = settings.model_copy(update={"bucket": bucket})
    ensure_bucket(s3_client(own), own.bucket)
    return Lake(spark, own)


def load_earlier_then_later(lake, earlier, later, work: Path):
    """Load `earlier`, then `later`, into the lake; the two ingest results."""
    first = ingest_dump(earlier, lake.settings, work / "a")
    run_pipeline(lake, earlier.site, first.dump_id)
    second = ingest_dump(later, lake.settings, work / "b")
    run_pipeline(lake, later.site, second.dump_id)
    return first, second


def check_tags_count(lake, site: str, xml_dir: Path) -> None:
    """gold's question count per tag is Tags.xml's Count, for every tag with questions."""
    tags = {
        r.get("TagName"): int(r.get("Count"))
        for _, r in etree.iterparse(str(xml_dir / "Tags.xml"), tag="row")
    }
    gold = {
        r["tag"]: r["question_count"]
        for r in lake.read("gold.most_popular_tags").where(F.col("site") == site).collect()
    }
    assert {t: c for t, c in tags.items() if c} == gold


def check_answer_count(lake, site: str, xml_dir: Path) -> None:
    """silver's answers per question are each live question's AnswerCount."""
    answers = Counter(
        r["question_id"]
        for r in lake.read("silver.posts")
        .where((F.col("site") == site) & (F.col("post_type") == "answer"))
        .collect()
    )
    questions = {
        post_id: post
        for post_id, post in post_rows(xml_dir).items()
        if post["PostTypeId"] == "1" and "DeletionDate" not in post
    }
    assert questions
    for post_id, post in questions.items():
        assert answers[post_id] == int(post.get("AnswerCount", 0)), post_id


def check_rows_stored_or_rejected(lake, site: str, rows_in: dict[str, int]) -> None:
    """Each file's rows are in its bronze table or in bronze.rejected_rows."""
    rejected = Counter(
        r["table_name"]
        for r in lake.read("bronze.rejected_rows").where(F.col("site") == site).collect()
    )
    for name, table in DUMP_TABLES.items():
        stored = lake.read(f"bronze.{table.name}").where(F.col("site") == site).count()
        assert stored + rejected[table.name] == rows_in[name], name


def check_oracles(lake, site: str, xml_dir: Path, rows_in: dict[str, int]) -> None:
    """Stack Exchange's own numbers hold in the lake."""
    check_tags_count(lake, site, xml_dir)
    check_answer_count(lake, site, xml_dir)
    check_rows_stored_or_rejected(lake, site, rows_in)


def check_lineage(lake, site: str, second_id: str, earlier_dir: Path, later_dir: Path):
    """bronze.row_lineage names exactly the posts the two dumps' files differ by."""
    before, after = post_rows(earlier_dir), post_rows(later_dir)
    lineage = {
        r["id"]: r
        for r in lake.read(ROW_LINEAGE)
        .where((F.col("site") == site) & (F.col("table_name") == "posts"))
        .collect()
    }
    deleted = {i for i, r in lineage.items() if r["deleted_in_dump_id"] == second_id}
    added = {i for i, r in lineage.items() if r["first_seen_dump_id"] == second_id}
    edited = {
        i for i, r in lineage.items() if r["changed_in_dump_id"] == second_id and i not in added
    }
    assert deleted == before.keys() - after.keys() and deleted
    assert added == after.keys() - before.keys() and added
    assert edited == {i for i in before.keys() & after.keys() if before[i] != after[i]}
    assert edited
    # Here the earlier dump is the first: a row it had and the later one lacks was last
    # seen in it, and a live row names no last-seen dump (it is in the current one).
    assert all(lineage[i]["last_seen_dump_id"] == lineage[i]["first_seen_dump_id"] for i in deleted)
    live = [r for r in lineage.values() if r["deleted_in_dump_id"] is None]
    assert live and all(r["last_seen_dump_id"] is None for r in live)
    return {"added": len(added), "changed": len(edited), "deleted": len(deleted)}


@dataclass(frozen=True)
class RealDump:
    site: str
    archive: Path
    dump_id: str
    xml_dir: Path  # the archive's files, extracted with py7zr
    rows: dict[str, list[dict]]  # per file, each row's attributes, as lxml reads them


def load_real_dump(shared_dumps: Path, lake, settings, work: Path) -> RealDump:
    """The Bicycles meta dump (2023-09, CRLF line ends) loaded alone into `lake`."""
    from pipeline_helpers import run_pipeline

    from worker.ingest.ingest_dump import ingest_dump

    site = "bicycles.meta.stackexchange.com"
    archive = shared_dumps / f"{site}.7z"
    if not archive.exists():
        absent(f"{archive} is absent on this machine")
    ingested = ingest_dump(LocalArchive(archive), settings, work)
    assert ingested.dump_id.startswith("2023-09-")  # from the _files.xml mtime
    run_pipeline(lake, site, ingested.dump_id)
    rows = extracted_rows(archive, work / "xml")
    return RealDump(site, archive, ingested.dump_id, work / "xml", rows)
