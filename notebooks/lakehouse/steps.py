"""One function per step of the graph, of the step's name: read, transform, write.
Notebooks call these and show the result; nothing here knows which target it runs on."""

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.bronze.dump_history import release_of
from lakehouse.bronze.xml_to_bronze import BronzeLoad, DumpToLoad, load_dump_files
from lakehouse.delta_merge import Slice, sync, with_row_hash
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
    PUBLISHED_KEYS,
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
    def running(self, step: str) -> Iterator[StepRun]:
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

    pattern = f"{lake.target.raw_location}/{site}/*/{MANIFEST}"
    try:
        manifests = lake.spark.read.text(pattern, wholetext=True).collect()
    except AnalysisException:  # No such path: nothing ingested for this site.
        manifests = []
    releases = [release_of(json.loads(row.value)) for row in manifests]
    if not releases:
        raise LookupError(
            f"No ingested dump of site {site!r} under {lake.target.raw_location} "
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


# Each step by its name, the graph's and its notebook's.
STEPS: dict[str, Callable[[RunContext], object]] = {}


def step[T](body: Callable[[RunContext, StepRun], T]) -> Callable[[RunContext], T]:
    """The step named as `body` is, registered in STEPS: a notebook calls it with the run's
    context, and `body` runs inside its step record (lakehouse.step_runs)."""
    name = body.__name__

    def run_step(ctx: RunContext) -> T:
        with ctx.running(name) as run:
            return body(ctx, run)

    run_step.__name__, run_step.__doc__ = name, body.__doc__
    STEPS[name] = run_step
    return run_step


def _load(
    ctx: RunContext, run: StepRun, file_names: list[str], skip_absent: bool = False
) -> list[BronzeLoad]:
    # Always called: a file whose table already holds the dump is not read again.
    dump = DumpToLoad(ctx.lake, ctx.site, ctx.dump_id, ctx.run_time, run.before_writing)
    return load_dump_files(dump, file_names, skip_absent)


@step
def bronze_posts(ctx: RunContext, run: StepRun) -> BronzeLoad:
    """Load the dump's Posts.xml into bronze.posts."""
    return _load(ctx, run, ["Posts.xml"])[0]


@step
def bronze_users(ctx: RunContext, run: StepRun) -> BronzeLoad:
    """Load the dump's Users.xml into bronze.users."""
    return _load(ctx, run, ["Users.xml"])[0]


@step
def bronze_tables(ctx: RunContext, run: StepRun) -> list[BronzeLoad]:
    """The other dump files; those a dump lacks are skipped (ingest named them)."""
    return _load(ctx, run, list(OTHER_DUMP_FILES), skip_absent=True)


@step
def bronze_posts_dataquality(ctx: RunContext, run: StepRun) -> DataFrame:
    """Check bronze.posts with DQX: valid rows, quarantined rows, and the per-rule counts."""
    # Here, not at the top: DQX takes 1.4 s to import, and only this step needs it.
    from lakehouse.bronze.posts_quality import check_bronze_posts, dq_results

    if run.has_work:
        run.before_writing()
        return check_bronze_posts(ctx.lake, ctx.site, ctx.dump_id, ctx.run_id, ctx.run_time)
    return dq_results(ctx.lake, ctx.site, ctx.dump_id)


def _publish(ctx: RunContext, run: StepRun, tables: Callable[[], dict[str, DataFrame]]) -> None:
    """Make the site's rows of each table equal `tables()`'s, unless the step has nothing
    new to compute; `tables` reads its inputs only when it has. The rows are a function of
    the step's inputs, so a site whose rows changed is rewritten whole, in one write
    (`sync`'s whole_scope); each table's keys are in lakehouse.tables."""
    if run.has_work:
        run.before_writing()
        for name, df in tables().items():
            rows = with_row_hash(df, df.columns)
            keys = list(PUBLISHED_KEYS[name])
            sync(ctx.lake, rows, Slice(name, keys, {"site": ctx.site}, whole_scope=True))


@step
def silver_posts(ctx: RunContext, run: StepRun) -> DataFrame:
    """silver.posts from the valid bronze posts; returns the site's rows."""
    _publish(ctx, run, lambda: {SILVER_POSTS: build_silver_posts(ctx.site_rows(POSTS_VALID))})
    return ctx.site_rows(SILVER_POSTS)


@step
def silver_users(ctx: RunContext, run: StepRun) -> DataFrame:
    """silver.users from bronze.users; returns the site's rows."""
    _publish(ctx, run, lambda: {SILVER_USERS: build_silver_users(ctx.site_rows(BRONZE_USERS))})
    return ctx.site_rows(SILVER_USERS)


@step
def gold_posts_users(ctx: RunContext, run: StepRun) -> DataFrame:
    """gold.posts_users from silver posts and users; returns the site's rows."""

    def tables() -> dict[str, DataFrame]:
        posts, users = ctx.site_rows(SILVER_POSTS), ctx.site_rows(SILVER_USERS)
        return {GOLD_POSTS_USERS: posts_users(posts, users)}

    _publish(ctx, run, tables)
    return ctx.site_rows(GOLD_POSTS_USERS)


@step
def gold_most_popular_tags(ctx: RunContext, run: StepRun) -> DataFrame:
    """The tag tables, overall and per month, from silver.posts; returns the site's tags."""

    def tables() -> dict[str, DataFrame]:
        posts = ctx.site_rows(SILVER_POSTS)
        return {
            GOLD_MOST_POPULAR_TAGS_MONTHLY: most_popular_tags_monthly(posts),
            GOLD_MOST_POPULAR_TAGS: most_popular_tags(posts),
        }

    _publish(ctx, run, tables)
    return ctx.site_rows(GOLD_MOST_POPULAR_TAGS)


def run_all(ctx: RunContext, parallel: int = 1) -> None:
    """Every step in this process, each once the steps it depends on are done, up to
    `parallel` at a time (tests and benchmarks use this). One at a time is the default:
    on 2 cores, steps side by side on one Spark gained nothing (BENCHMARKS.md)."""
    run_graph(lambda task: STEPS[task.name](ctx), parallel)
