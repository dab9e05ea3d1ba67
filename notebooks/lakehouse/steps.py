"""One function per notebook: read, transform, write. Notebooks call these and show
the result; nothing here knows which target it runs on."""

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.bronze.dump_history import release_of
from lakehouse.bronze.xml_to_bronze import BronzeLoad, load_dump_files
from lakehouse.delta_merge import sync, with_row_hash
from lakehouse.gold.most_popular_tags import most_popular_tags, most_popular_tags_monthly
from lakehouse.gold.posts_users import posts_users
from lakehouse.graph import OTHER_DUMP_FILES, run_graph
from lakehouse.lake import Lake
from lakehouse.raw_layout import MANIFEST
from lakehouse.silver.posts import build_silver_posts
from lakehouse.silver.users import build_silver_users
from lakehouse.step_runs import TASKS, StepRun, step_run
from lakehouse.table_changes import changes_since, table_versions
from lakehouse.tables import (
    BRONZE_USERS,
    GOLD_MOST_POPULAR_TAGS,
    GOLD_MOST_POPULAR_TAGS_MONTHLY,
    GOLD_POSTS_USERS,
    POSTS_VALID,
    SILVER_POSTS,
    SILVER_USERS,
)


@dataclass(frozen=True)
class RunContext:
    """One run of the pipeline on one site's dump: the lake, the dump and the run's id and
    time. With `tracks_changes`, each step also notes the tables it changed, in
    `changed_tables` (lakehouse.table_changes): a Databricks notebook's exit value."""

    lake: Lake
    site: str
    dump_id: str
    run_id: str
    run_time: datetime
    tracks_changes: bool = False
    changed_tables: dict[str, dict[str, str | int | None]] = field(default_factory=dict)

    def site_rows(self, name: str) -> DataFrame:
        """The run's site's rows of a table."""
        return self.lake.read(name).where(F.col("site") == self.site)

    @contextmanager
    def step_run(self, step: str) -> Iterator[StepRun]:
        """Around the step's writes: whether it has anything new to compute (see
        lakehouse.step_runs)."""
        writes = TASKS[step].writes
        before = table_versions(self.lake, writes) if self.tracks_changes else None
        with step_run(self.lake, self.site, self.dump_id, self.run_id, step) as run:
            yield run
        if before is not None:
            self.changed_tables.update(changes_since(self.lake, self.site, self.dump_id, before))


def latest_dump_id(lake: Lake, site: str) -> str:
    """The site's most recently published ingested dump (by its publication time, never
    by the order of the ids' hashes)."""
    from pyspark.errors import AnalysisException

    pattern = f"{lake.settings.raw_location}/{site}/*/{MANIFEST}"
    try:
        manifests = lake.spark.read.text(pattern, wholetext=True).collect()
    except AnalysisException:  # No such path: nothing ingested for this site.
        manifests = []
    releases = [release_of(json.loads(row.value)) for row in manifests]
    if not releases:
        raise LookupError(
            f"No ingested dump of site {site!r} under {lake.settings.raw_location} "
            "(setting LAKE_RAW_ROOT, job parameter `raw_root`)"
        )
    newest = max(release.published for release in releases)
    tied = sorted(r.dump_id for r in releases if r.published == newest)
    if len(tied) > 1:
        raise LookupError(
            f"site {site!r}: dumps {', '.join(tied)} were published at the same time; "
            "name the one to load with the `dump_id` parameter"
        )
    return tied[0]


def run_context(
    lake: Lake, site: str, dump_id: str = "", run_id: str = "", tracks_changes: bool = False
) -> RunContext:
    """The run's parameters; an empty dump_id means the site's latest ingested dump."""
    if not site:
        raise ValueError(
            "The `site` parameter is empty; set it to a site such as bicycles.stackexchange.com"
        )
    return RunContext(
        lake=lake,
        site=site,
        dump_id=dump_id or latest_dump_id(lake, site),
        run_id=run_id or uuid.uuid4().hex[:12],
        run_time=datetime.now(UTC),
        tracks_changes=tracks_changes,
    )


def _load(
    ctx: RunContext, step: str, file_names: list[str], skip_absent: bool = False
) -> list[BronzeLoad]:
    # Always called: a file whose table already holds the dump is not read again.
    with ctx.step_run(step) as run:
        return load_dump_files(
            ctx.lake,
            ctx.site,
            ctx.dump_id,
            file_names,
            ctx.run_time,
            skip_absent=skip_absent,
            before_writing=run.before_writing,
        )


def bronze_posts(ctx: RunContext) -> BronzeLoad:
    """Load the dump's Posts.xml into bronze.posts."""
    return _load(ctx, "bronze_posts", ["Posts.xml"])[0]


def bronze_users(ctx: RunContext) -> BronzeLoad:
    """Load the dump's Users.xml into bronze.users."""
    return _load(ctx, "bronze_users", ["Users.xml"])[0]


def bronze_tables(
    ctx: RunContext, file_names: tuple[str, ...] = OTHER_DUMP_FILES
) -> list[BronzeLoad]:
    """The other dump files; those a dump lacks are skipped (ingest named them)."""
    return _load(ctx, "bronze_tables", list(file_names), skip_absent=True)


def bronze_posts_dataquality(ctx: RunContext) -> DataFrame:
    """Check bronze.posts with DQX: valid rows, quarantined rows, and the per-rule counts."""
    # Here, not at the top: DQX takes 1.4 s to import, and only this step needs it.
    from lakehouse.bronze.posts_quality import check_bronze_posts, dq_results

    with ctx.step_run("bronze_posts_dataquality") as run:
        if run.has_work:
            run.before_writing()
            return check_bronze_posts(ctx.lake, ctx.site, ctx.dump_id, ctx.run_id, ctx.run_time)
    return dq_results(ctx.lake, ctx.site, ctx.dump_id)


# What a step publishes: per table, its rows and their keys.
type _Tables = dict[str, tuple[DataFrame, list[str]]]


def _publish(ctx: RunContext, step: str, tables: Callable[[], _Tables]) -> None:
    """Make the site's rows of each table (name -> rows, keys) equal those rows, unless
    the step has nothing new to compute; `tables` reads its inputs only when it has. The
    rows are a function of the step's inputs, so a site whose rows changed is rewritten
    whole, in one write (`sync`'s whole_scope)."""
    with ctx.step_run(step) as run:
        if run.has_work:
            run.before_writing()
            for name, (df, keys) in tables().items():
                rows = with_row_hash(df, df.columns)
                sync(ctx.lake, rows, name, keys, {"site": ctx.site}, whole_scope=True)


def silver_posts(ctx: RunContext) -> DataFrame:
    """silver.posts from the valid bronze posts; returns the site's rows."""

    def tables() -> _Tables:
        posts = build_silver_posts(ctx.site_rows(POSTS_VALID))
        return {SILVER_POSTS: (posts, ["site", "id"])}

    _publish(ctx, "silver_posts", tables)
    return ctx.site_rows(SILVER_POSTS)


def silver_users(ctx: RunContext) -> DataFrame:
    """silver.users from bronze.users; returns the site's rows."""

    def tables() -> _Tables:
        users = build_silver_users(ctx.site_rows(BRONZE_USERS))
        return {SILVER_USERS: (users, ["site", "id"])}

    _publish(ctx, "silver_users", tables)
    return ctx.site_rows(SILVER_USERS)


def gold_posts_users(ctx: RunContext) -> DataFrame:
    """gold.posts_users from silver posts and users; returns the site's rows."""

    def tables() -> _Tables:
        table = posts_users(ctx.site_rows(SILVER_POSTS), ctx.site_rows(SILVER_USERS))
        return {GOLD_POSTS_USERS: (table, ["site", "user_id"])}

    _publish(ctx, "gold_posts_users", tables)
    return ctx.site_rows(GOLD_POSTS_USERS)


def gold_most_popular_tags(ctx: RunContext) -> DataFrame:
    """The tag tables, overall and per month, from silver.posts; returns the site's tags."""

    def tables() -> _Tables:
        posts = ctx.site_rows(SILVER_POSTS)
        return {
            GOLD_MOST_POPULAR_TAGS_MONTHLY: (
                most_popular_tags_monthly(posts),
                ["site", "tag", "month"],
            ),
            GOLD_MOST_POPULAR_TAGS: (most_popular_tags(posts), ["site", "tag"]),
        }

    _publish(ctx, "gold_most_popular_tags", tables)
    return ctx.site_rows(GOLD_MOST_POPULAR_TAGS)


STEPS: dict[str, Callable[[RunContext], object]] = {
    "bronze_posts": bronze_posts,
    "bronze_users": bronze_users,
    "bronze_tables": bronze_tables,
    "bronze_posts_dataquality": bronze_posts_dataquality,
    "silver_posts": silver_posts,
    "silver_users": silver_users,
    "gold_posts_users": gold_posts_users,
    "gold_most_popular_tags": gold_most_popular_tags,
}


def run_all(ctx: RunContext, parallel: int = 1) -> None:
    """Every step in this process, each once the steps it depends on are done, up to
    `parallel` at a time (tests and benchmarks use this). One at a time is the default:
    on 2 cores, steps side by side on one Spark gained nothing (BENCHMARKS.md)."""
    run_graph(lambda task: STEPS[task.notebook](ctx), parallel)
