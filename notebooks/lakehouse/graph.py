"""How steps make a graph: a step's declaration, the steps it waits for (those that write
what it reads), an order, and a runner. The pipeline's steps are declared in
`lakehouse.steps`, each once, and its graph is `lakehouse.steps.PIPELINE`."""

from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace


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


def in_dependency_order(tasks: tuple[Step, ...]) -> list[Step]:
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
    tasks: tuple[Step, ...], run_task: Callable[[Step], object], parallel: int = 1
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
