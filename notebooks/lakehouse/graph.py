"""The pipeline graph, defined once: notebooks, their dependencies and the tables they
write. The local runner, the Airflow DAG and the Databricks job are rendered from it."""

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass


@dataclass(frozen=True)
class NotebookTask:
    """One notebook of the graph: the notebooks it waits for and the tables it writes."""

    notebook: str
    depends_on: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()


# Parameters every notebook takes; each run fills them in.
RUN_PARAMETERS = ("site", "dump_id", "run_id")

# Every step notes there what it computed from, so a run with nothing new skips it.
STEP_RUNS = "bronze.step_runs"

# Every bronze load also writes these: its rejected lines and its dump's history.
BRONZE_LOAD_WRITES = (
    "bronze.rejected_rows",
    "bronze.dump_loads",
    "bronze.row_lineage",
    STEP_RUNS,
)

PIPELINE: tuple[NotebookTask, ...] = (
    NotebookTask("bronze_posts", writes=("bronze.posts", *BRONZE_LOAD_WRITES)),
    NotebookTask("bronze_users", writes=("bronze.users", *BRONZE_LOAD_WRITES)),
    NotebookTask(
        "bronze_tables",
        writes=(
            "bronze.comments",
            "bronze.votes",
            "bronze.badges",
            "bronze.tags",
            "bronze.post_links",
            "bronze.post_history",
            *BRONZE_LOAD_WRITES,
        ),
    ),
    NotebookTask(
        "bronze_posts_dataquality",
        depends_on=("bronze_posts", "bronze_users"),
        writes=(
            "bronze.posts_valid",
            "bronze.posts_quarantine",
            "bronze.dq_results",
            STEP_RUNS,
        ),
    ),
    NotebookTask(
        "silver_posts", depends_on=("bronze_posts_dataquality",), writes=("silver.posts", STEP_RUNS)
    ),
    NotebookTask("silver_users", depends_on=("bronze_users",), writes=("silver.users", STEP_RUNS)),
    NotebookTask(
        "gold_posts_users",
        depends_on=("silver_posts", "silver_users"),
        writes=("gold.posts_users", STEP_RUNS),
    ),
    NotebookTask(
        "gold_most_popular_tags",
        depends_on=("silver_posts",),
        writes=("gold.most_popular_tags", "gold.most_popular_tags_monthly", STEP_RUNS),
    ),
)

TABLES: tuple[str, ...] = tuple(dict.fromkeys(t for task in PIPELINE for t in task.writes))


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
    running: dict[Future, NotebookTask] = {}
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
