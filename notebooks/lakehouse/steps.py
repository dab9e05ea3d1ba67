"""The pipeline's steps, each declared once: `@step(reads=..., writes=...)` on its body,
a function of the step's name (its notebook's, and its task's in Airflow and on
Databricks). The graph (PIPELINE), the runners, the step records, the Airflow DAG and the
Databricks job are derived from these declarations; nothing here knows which target it
runs on. Spark code is imported inside the bodies: the DAGs read the declarations, and
Airflow parses them often, without Spark."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING

from lakehouse.graph import Step, run_graph, waiting_for_writers
from lakehouse.lake import Lake
from lakehouse.raw_layout import MANIFEST
from lakehouse.schemas import DUMP_TABLES
from lakehouse.step_runs import StepRun, step_run
from lakehouse.table_changes import changes_since, table_versions
from lakehouse.tables import (
    BRONZE_POSTS,
    BRONZE_USERS,
    DQ_RESULTS,
    DUMP_LOADS,
    GOLD_MOST_POPULAR_TAGS,
    GOLD_MOST_POPULAR_TAGS_MONTHLY,
    GOLD_POSTS_USERS,
    POSTS_QUARANTINE,
    POSTS_VALID,
    PUBLISHED_KEYS,
    REJECTED_ROWS,
    ROW_LINEAGE,
    SILVER_POSTS,
    SILVER_USERS,
    STEP_RUNS,
    bronze_of_file,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from lakehouse.bronze.xml_to_bronze import BronzeLoad


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
        from pyspark.sql import functions as F

        return self.lake.read(name).where(F.col("site") == self.site)

    @contextmanager
    def running(self, name: str) -> Iterator[StepRun]:
        """Around the step's writes: whether it has anything new to compute (see
        lakehouse.step_runs)."""
        task = STEP_DECLARATIONS[name]
        before = table_versions(self.lake, task.writes) if self.tracks_changes else None
        with step_run(self.lake, self.site, self.dump_id, self.run_id, task) as run:
            yield run
        if before is not None:
            self.changed_tables.update(changes_since(self.lake, self.site, self.dump_id, before))


def latest_dump_id(lake: Lake, site: str) -> str:
    """The site's most recently published ingested dump (by its publication time, never
    by the order of the ids' hashes)."""
    from pyspark.errors import AnalysisException

    from lakehouse.bronze.dump_history import release_of

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


# Each step's declaration and its body, by the step's name, in declaration order.
DECLARED: list[Step] = []
STEPS: dict[str, Callable[[RunContext], object]] = {}


def step[T](
    reads: tuple[str, ...] = (), writes: tuple[str, ...] = ()
) -> Callable[[Callable[[RunContext, StepRun], T]], Callable[[RunContext], T]]:
    """Declare the step named as the function it decorates: the tables it `reads` and
    `writes` (every step also writes its record in bronze.step_runs). A notebook calls
    the step with the run's context; the body runs inside its record (lakehouse.step_runs)
    and returns what the notebook shows."""

    def declare(body: Callable[[RunContext, StepRun], T]) -> Callable[[RunContext], T]:
        name = body.__name__
        if name in STEPS:
            raise ValueError(f"step {name} is declared twice; a step has one declaration")
        DECLARED.append(Step(name, writes=(*writes, STEP_RUNS), reads=reads))

        def run_step(ctx: RunContext) -> T:
            with ctx.running(name) as run:
                return body(ctx, run)

        run_step.__name__, run_step.__doc__ = name, body.__doc__
        STEPS[name] = run_step
        return run_step

    return declare


# The dump files bronze_tables loads: all but the two with steps of their own.
OTHER_DUMP_FILES = tuple(name for name in DUMP_TABLES if name not in ("Posts.xml", "Users.xml"))
# Every bronze load also writes its rejected lines and its dump's history.
BRONZE_LOAD_WRITES = (REJECTED_ROWS, DUMP_LOADS, ROW_LINEAGE)


def _load(
    ctx: RunContext, run: StepRun, file_names: list[str], skip_absent: bool = False
) -> list[BronzeLoad]:
    # Always called: a file whose table already holds the dump is not read again (unless
    # the step's last run died).
    from lakehouse.bronze.xml_to_bronze import DumpToLoad, load_dump_files

    dump = DumpToLoad(
        ctx.lake,
        ctx.site,
        ctx.dump_id,
        ctx.run_time,
        run.before_writing,
        run.before_rewriting_rows,
        run.finished_loading,
        last_run_died=run.last_run_died,
    )
    return load_dump_files(dump, file_names, skip_absent)


@step(writes=(BRONZE_POSTS, *BRONZE_LOAD_WRITES))
def bronze_posts(ctx: RunContext, run: StepRun) -> BronzeLoad:
    """Load the dump's Posts.xml into bronze.posts."""
    return _load(ctx, run, ["Posts.xml"])[0]


@step(writes=(BRONZE_USERS, *BRONZE_LOAD_WRITES))
def bronze_users(ctx: RunContext, run: StepRun) -> BronzeLoad:
    """Load the dump's Users.xml into bronze.users."""
    return _load(ctx, run, ["Users.xml"])[0]


@step(writes=(*(bronze_of_file(name) for name in OTHER_DUMP_FILES), *BRONZE_LOAD_WRITES))
def bronze_tables(ctx: RunContext, run: StepRun) -> list[BronzeLoad]:
    """The other dump files; those a dump lacks are skipped (ingest named them)."""
    return _load(ctx, run, list(OTHER_DUMP_FILES), skip_absent=True)


@step(reads=(BRONZE_POSTS, BRONZE_USERS), writes=(POSTS_VALID, POSTS_QUARANTINE, DQ_RESULTS))
def bronze_posts_dataquality(ctx: RunContext, run: StepRun) -> DataFrame:
    """Check bronze.posts with DQX: valid rows, quarantined rows, and the per-rule counts."""
    if run.has_work:
        # DQX takes 1.4 s to import, and only this step needs it, when it has work.
        from lakehouse.bronze.posts_quality import check_bronze_posts

        run.before_writing()
        return check_bronze_posts(ctx.lake, ctx.site, ctx.dump_id, ctx.run_id, ctx.run_time)
    from lakehouse.bronze.dq_results import carried_dq_results

    return carried_dq_results(ctx.lake, ctx.site, ctx.dump_id)


def _publish(
    ctx: RunContext,
    run: StepRun,
    tables: Callable[[], dict[str, DataFrame]],
    aggregated: str | None = None,
) -> None:
    """Make the site's rows of each table equal `tables()`'s, unless the step has nothing
    new to compute; `tables` reads its inputs only when it has. The rows are a function of
    the step's inputs; a site whose rows changed is rewritten whole, in one write
    (`sync`); each table's keys are in lakehouse.tables. Tables that aggregate an input
    (`aggregated`) are few rows computed from many: where the site's rows of the input
    number more than the setting `compare_max_rows` (counted once, where a table's own
    stored rows would have it compared), they are rewritten without the comparison that
    would compute them twice."""
    from lakehouse.delta_merge import Slice, sync, with_row_hash

    if run.has_work:
        run.before_writing()
        large_input = None
        if aggregated is not None:
            most = ctx.lake.settings.compare_max_rows
            large_input = cache(lambda: ctx.site_rows(aggregated).limit(most + 1).count() > most)
        for name, df in tables().items():
            rows = with_row_hash(df, df.columns)
            keys = list(PUBLISHED_KEYS[name])
            sync(ctx.lake, rows, Slice(name, keys, {"site": ctx.site}, large_input=large_input))


@step(reads=(POSTS_VALID,), writes=(SILVER_POSTS,))
def silver_posts(ctx: RunContext, run: StepRun) -> DataFrame:
    """silver.posts from the valid bronze posts; returns the site's rows."""
    from lakehouse.silver.posts import build_silver_posts

    _publish(ctx, run, lambda: {SILVER_POSTS: build_silver_posts(ctx.site_rows(POSTS_VALID))})
    return ctx.site_rows(SILVER_POSTS)


@step(reads=(BRONZE_USERS,), writes=(SILVER_USERS,))
def silver_users(ctx: RunContext, run: StepRun) -> DataFrame:
    """silver.users from bronze.users; returns the site's rows."""
    from lakehouse.silver.users import build_silver_users

    _publish(ctx, run, lambda: {SILVER_USERS: build_silver_users(ctx.site_rows(BRONZE_USERS))})
    return ctx.site_rows(SILVER_USERS)


@step(reads=(SILVER_POSTS, SILVER_USERS), writes=(GOLD_POSTS_USERS,))
def gold_posts_users(ctx: RunContext, run: StepRun) -> DataFrame:
    """gold.posts_users from silver posts and users; returns the site's rows."""
    from lakehouse.gold.posts_users import posts_users

    def tables() -> dict[str, DataFrame]:
        posts, users = ctx.site_rows(SILVER_POSTS), ctx.site_rows(SILVER_USERS)
        return {GOLD_POSTS_USERS: posts_users(posts, users)}

    _publish(ctx, run, tables, aggregated=SILVER_POSTS)
    return ctx.site_rows(GOLD_POSTS_USERS)


@step(reads=(SILVER_POSTS,), writes=(GOLD_MOST_POPULAR_TAGS, GOLD_MOST_POPULAR_TAGS_MONTHLY))
def gold_most_popular_tags(ctx: RunContext, run: StepRun) -> DataFrame:
    """The tag tables, overall and per month, from silver.posts; returns the site's tags."""
    from lakehouse.gold.most_popular_tags import most_popular_tags, most_popular_tags_monthly

    def tables() -> dict[str, DataFrame]:
        posts = ctx.site_rows(SILVER_POSTS)
        return {
            GOLD_MOST_POPULAR_TAGS_MONTHLY: most_popular_tags_monthly(posts),
            GOLD_MOST_POPULAR_TAGS: most_popular_tags(posts),
        }

    _publish(ctx, run, tables, aggregated=SILVER_POSTS)
    return ctx.site_rows(GOLD_MOST_POPULAR_TAGS)


# The pipeline's graph: each step waiting for the steps that write what it reads.
PIPELINE: tuple[Step, ...] = waiting_for_writers(tuple(DECLARED))
STEP_DECLARATIONS = {task.name: task for task in PIPELINE}
TABLES: tuple[str, ...] = tuple(dict.fromkeys(t for task in PIPELINE for t in task.writes))
# The notebooks nothing depends on: a run is over once they are.
LAST_NOTEBOOKS: tuple[str, ...] = tuple(
    task.name for task in PIPELINE if not any(task.name in other.depends_on for other in PIPELINE)
)


def run_all(ctx: RunContext, parallel: int = 1) -> None:
    """Every step in this process, each once the steps it depends on are done, up to
    `parallel` at a time (the benchmarks use this). One at a time is the default:
    on 2 cores, steps side by side on one Spark gained nothing (BENCHMARKS.md)."""
    run_graph(PIPELINE, lambda task: STEPS[task.name](ctx), parallel)
