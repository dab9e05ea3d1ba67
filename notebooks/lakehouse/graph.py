"""The pipeline graph, defined once: its steps, the tables each reads and writes, and so
the steps each waits for. The local runner, the Airflow DAG and the Databricks job are
rendered from it; each step is a notebook of its name and a function of `lakehouse.steps`."""

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace

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
class Step:
    """One step of the pipeline: its name (its notebook's, and its task's in Airflow and on
    Databricks), the steps it waits for, the tables it writes and those it reads."""

    name: str
    depends_on: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()


def waiting_for_writers(steps: tuple[Step, ...]) -> tuple[Step, ...]:
    """`steps`, each waiting for the steps that write the tables it reads: a dependency
    follows from what a step reads, never listed by hand."""
    writers: dict[str, list[str]] = {}
    for step in steps:
        for table in step.writes:
            writers.setdefault(table, []).append(step.name)

    def writer(step: Step, table: str) -> str:
        names = writers.get(table, [])
        if len(names) != 1:
            raise ValueError(
                f"step {step.name} reads {table}, which {', '.join(names) or 'no step'} "
                "writes: a step reads tables that one step writes"
            )
        return names[0]

    return tuple(
        replace(step, depends_on=tuple(dict.fromkeys(writer(step, t) for t in step.reads)))
        for step in steps
    )


# Parameters every notebook takes; each run fills them in.
RUN_PARAMETERS = ("site", "dump_id", "run_id")

# The dump files bronze_tables loads: all but the two with notebooks of their own.
OTHER_DUMP_FILES = tuple(name for name in DUMP_TABLES if name not in ("Posts.xml", "Users.xml"))

# Every bronze load also writes these: its rejected lines and its dump's history.
BRONZE_LOAD_WRITES = (REJECTED_ROWS, DUMP_LOADS, ROW_LINEAGE, STEP_RUNS)

PIPELINE: tuple[Step, ...] = waiting_for_writers(
    (
        Step("bronze_posts", writes=(BRONZE_POSTS, *BRONZE_LOAD_WRITES)),
        Step("bronze_users", writes=(BRONZE_USERS, *BRONZE_LOAD_WRITES)),
        Step(
            "bronze_tables",
            writes=(*(bronze_of_file(name) for name in OTHER_DUMP_FILES), *BRONZE_LOAD_WRITES),
        ),
        Step(
            "bronze_posts_dataquality",
            reads=(BRONZE_POSTS, BRONZE_USERS),
            writes=(POSTS_VALID, POSTS_QUARANTINE, DQ_RESULTS, STEP_RUNS),
        ),
        Step("silver_posts", reads=(POSTS_VALID,), writes=(SILVER_POSTS, STEP_RUNS)),
        Step("silver_users", reads=(BRONZE_USERS,), writes=(SILVER_USERS, STEP_RUNS)),
        Step(
            "gold_posts_users",
            reads=(SILVER_POSTS, SILVER_USERS),
            writes=(GOLD_POSTS_USERS, STEP_RUNS),
        ),
        Step(
            "gold_most_popular_tags",
            reads=(SILVER_POSTS,),
            writes=(GOLD_MOST_POPULAR_TAGS, GOLD_MOST_POPULAR_TAGS_MONTHLY, STEP_RUNS),
        ),
    )
)

TABLES: tuple[str, ...] = tuple(dict.fromkeys(t for task in PIPELINE for t in task.writes))
# The notebooks nothing depends on: a run is over once they are.
LAST_NOTEBOOKS: tuple[str, ...] = tuple(
    task.name for task in PIPELINE if not any(task.name in other.depends_on for other in PIPELINE)
)


def in_dependency_order(tasks: tuple[Step, ...] = PIPELINE) -> list[Step]:
    """A topological order of `tasks`; raises on a cycle or an unknown dependency."""
    by_name = {task.name: task for task in tasks}
    ordered: list[Step] = []
    state: dict[str, str] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name not in by_name:
            raise ValueError(f"{path[-1]} depends on unknown step {name!r}")
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
        visit(task.name, ("pipeline",))
    return ordered


def run_graph(
    run_task: Callable[[Step], object],
    parallel: int = 1,
    tasks: tuple[Step, ...] = PIPELINE,
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
    running: dict[Future[object], Step] = {}
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
                    finished.add(task.name)
                elif failure is None:
                    failure = future.exception()
    if failure is not None:
        raise failure
