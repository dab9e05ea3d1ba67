"""The pipeline graph, defined once: notebooks, their dependencies and the tables they
write. The local runner, the Airflow DAG and the Databricks job are rendered from it."""

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from lakehouse.schemas import DUMP_TABLES
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
    REJECTED_ROWS,
    ROW_LINEAGE,
    SILVER_POSTS,
    SILVER_USERS,
    STEP_RUNS,
    bronze_of_file,
)


@dataclass(frozen=True)
class NotebookTask:
    """One notebook of the graph: the notebooks it waits for and the tables it writes."""

    notebook: str
    depends_on: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()


# Parameters every notebook takes; each run fills them in.
RUN_PARAMETERS = ("site", "dump_id", "run_id")

# The dump files bronze_tables loads: all but the two with notebooks of their own.
OTHER_DUMP_FILES = tuple(name for name in DUMP_TABLES if name not in ("Posts.xml", "Users.xml"))

# Every bronze load also writes these: its rejected lines and its dump's history.
BRONZE_LOAD_WRITES = (REJECTED_ROWS, DUMP_LOADS, ROW_LINEAGE, STEP_RUNS)

PIPELINE: tuple[NotebookTask, ...] = (
    NotebookTask("bronze_posts", writes=(BRONZE_POSTS, *BRONZE_LOAD_WRITES)),
    NotebookTask("bronze_users", writes=(BRONZE_USERS, *BRONZE_LOAD_WRITES)),
    NotebookTask(
        "bronze_tables",
        writes=(*(bronze_of_file(name) for name in OTHER_DUMP_FILES), *BRONZE_LOAD_WRITES),
    ),
    NotebookTask(
        "bronze_posts_dataquality",
        depends_on=("bronze_posts", "bronze_users"),
        writes=(POSTS_VALID, POSTS_QUARANTINE, DQ_RESULTS, STEP_RUNS),
    ),
    NotebookTask(
        "silver_posts", depends_on=("bronze_posts_dataquality",), writes=(SILVER_POSTS, STEP_RUNS)
    ),
    NotebookTask("silver_users", depends_on=("bronze_users",), writes=(SILVER_USERS, STEP_RUNS)),
    NotebookTask(
        "gold_posts_users",
        depends_on=("silver_posts", "silver_users"),
        writes=(GOLD_POSTS_USERS, STEP_RUNS),
    ),
    NotebookTask(
        "gold_most_popular_tags",
        depends_on=("silver_posts",),
        writes=(GOLD_MOST_POPULAR_TAGS, GOLD_MOST_POPULAR_TAGS_MONTHLY, STEP_RUNS),
    ),
)

TABLES: tuple[str, ...] = tuple(dict.fromkeys(t for task in PIPELINE for t in task.writes))
# The notebooks nothing depends on: a run is over once they are.
LAST_NOTEBOOKS: tuple[str, ...] = tuple(
    task.notebook
    for task in PIPELINE
    if not any(task.notebook in other.depends_on for other in PIPELINE)
)


def in_dependency_order(tasks: tuple[NotebookTask, ...] = PIPELINE) -> list[NotebookTask]:
    """A topological order of `tasks`; raises on a cycle or an unknown dependency."""
    by_name = {task.notebook: task for task in tasks}
    ordered: list[NotebookTask] = []
    state: dict[str, str] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name not in by_name:
            raise ValueError(f"{path[-1]} depends on unknown notebook {name!r}")
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise ValueError(f"dependency cycle: {' -> '.join((*path, name))}")
        state[name] = "visiting"
        for dependency in by_name[name].depends_on:
            visit(dependency, (*path, name))
        state[name] = "done"
        ordered.append(by_name[name])

    for task in tasks:
        visit(task.notebook, ("pipeline",))
    return ordered


def run_graph(
    run_task: Callable[[NotebookTask], object],
    parallel: int = 1,
    tasks: tuple[NotebookTask, ...] = PIPELINE,
) -> None:
    """Call `run_task` on every task once its dependencies have finished, up to
    `parallel` at a time, in threads. After a failure no task starts; the first error is
    raised once the running ones end. One at a time runs in the caller's thread, so
    Ctrl-C (KeyboardInterrupt) stops the task that is running."""
    pending = in_dependency_order(tasks)
    if parallel == 1:
        for task in pending:
            run_task(task)
        return
    finished: set[str] = set()
    running: dict[Future[object], NotebookTask] = {}
    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        while (pending and failure is None) or running:
            ready = [task for task in pending if finished.issuperset(task.depends_on)]
            for task in ready[: parallel - len(running)] if failure is None else []:
                pending.remove(task)
                running[pool.submit(run_task, task)] = task
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                task = running.pop(future)
                if future.exception() is None:
                    finished.add(task.notebook)
                elif failure is None:
                    failure = future.exception()
    if failure is not None:
        raise failure
