"""The pipeline graph is sound, and each notebook matches it: thin, parameterised,
committed without outputs, importing the package only by its name."""

import json
import threading
import time
from pathlib import Path

import pytest

from lakehouse import steps
from lakehouse.graph import (
    PIPELINE,
    RUN_PARAMETERS,
    NotebookTask,
    in_dependency_order,
    run_graph,
)

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SEED_NAMES = {
    "bronze_posts",
    "bronze_users",
    "bronze_posts_dataquality",
    "silver_posts",
    "silver_users",
    "gold_posts_users",
    "gold_most_popular_tags",
}


def test_order_puts_every_dependency_first():
    order = [task.notebook for task in in_dependency_order()]
    assert sorted(order) == sorted(task.notebook for task in PIPELINE)
    for task in PIPELINE:
        for dependency in task.depends_on:
            assert order.index(dependency) < order.index(task.notebook)


def test_cycles_and_unknown_dependencies_are_refused():
    with pytest.raises(ValueError, match="cycle"):
        in_dependency_order((NotebookTask("a", ("b",)), NotebookTask("b", ("a",))))
    with pytest.raises(ValueError, match="unknown notebook 'c'"):
        in_dependency_order((NotebookTask("a", ("c",)),))


class Recorder:
    """Calls of run_graph's task function: when each started and ended."""

    def __init__(self, fail: str = "", meet: tuple[str, ...] = ()):
        self.events: list[tuple[str, str]] = []
        self.fail, self.lock = fail, threading.Lock()
        self.meet, self.barrier = set(meet), threading.Barrier(max(len(meet), 1), timeout=10)

    def __call__(self, task: NotebookTask) -> None:
        with self.lock:
            self.events.append(("start", task.notebook))
        if task.notebook in self.meet:  # Passes only if every one of `meet` runs at once.
            self.barrier.wait()
        time.sleep(0.01)
        if task.notebook == self.fail:
            raise RuntimeError(f"{task.notebook} failed")
        with self.lock:
            self.events.append(("end", task.notebook))


def test_the_graph_runs_each_task_after_its_dependencies_and_roots_side_by_side():
    roots = tuple(task.notebook for task in PIPELINE if not task.depends_on)
    assert len(roots) > 1
    recorder = Recorder(meet=roots)
    run_graph(recorder, parallel=len(PIPELINE))
    position = {event: index for index, event in enumerate(recorder.events)}
    assert {name for kind, name in recorder.events if kind == "end"} == {
        task.notebook for task in PIPELINE
    }
    for task in PIPELINE:
        for dependency in task.depends_on:
            assert position[("end", dependency)] < position[("start", task.notebook)]


def test_one_at_a_time_the_graph_runs_in_dependency_order():
    recorder = Recorder()
    run_graph(recorder, parallel=1)
    order = [task.notebook for task in in_dependency_order()]
    assert recorder.events == [(kind, name) for name in order for kind in ("start", "end")]


def test_one_at_a_time_ctrl_c_reaches_the_running_task():
    """Python delivers KeyboardInterrupt to the main thread only: a task run in a worker
    thread would go on after Ctrl-C, and the run would hang on it."""
    threads = []
    run_graph(lambda task: threads.append(threading.current_thread()), parallel=1)
    assert threads == [threading.main_thread()] * len(PIPELINE)


def test_after_a_failure_no_task_starts_and_the_error_is_raised():
    recorder = Recorder(fail="bronze_users")
    with pytest.raises(RuntimeError, match="bronze_users failed"):
        run_graph(recorder, parallel=1)
    started = [name for kind, name in recorder.events if kind == "start"]
    order = [task.notebook for task in in_dependency_order()]
    assert started == order[: order.index("bronze_users") + 1]


def test_every_graph_task_has_a_notebook_and_a_step():
    names = {task.notebook for task in PIPELINE}
    assert names >= SEED_NAMES
    assert names == set(steps.STEPS)
    assert names == {path.stem for path in NOTEBOOKS.glob("*.ipynb")} - {"explore"}


@pytest.mark.parametrize("task", PIPELINE, ids=lambda task: task.notebook)
def test_notebook_is_thin_parameterised_and_stripped(task):
    notebook = json.loads((NOTEBOOKS / f"{task.notebook}.ipynb").read_text())
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert all(not cell.get("outputs") and cell.get("execution_count") is None for cell in code)
    parameters = [c for c in code if "parameters" in c["metadata"].get("tags", [])]
    assert len(parameters) == 1
    for name in RUN_PARAMETERS:
        assert f"{name} = " in "".join(parameters[0]["source"])
    source = "\n".join("".join(cell["source"]) for cell in code)
    assert f"steps.{task.notebook}(ctx)" in source
    assert "sys.path" not in source and "%run" not in source
    assert len(code) <= 6
    # Last, so that on Databricks its exit value ends the notebook after the display.
    assert "".join(code[-1]["source"]).startswith("finish_run(ctx)")
