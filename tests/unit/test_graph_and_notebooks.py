"""The pipeline graph is sound, and each notebook matches it: thin, parameterised,
committed without outputs, importing the package only by its name."""

import json
import re
import threading
import time
from pathlib import Path

import pytest

from dump_generator import SAMPLE_SITE
from lakehouse import steps
from lakehouse.graph import (
    RUN_PARAMETERS,
    Step,
    in_dependency_order,
    run_graph,
    waiting_for_writers,
)
from lakehouse.steps import PIPELINE

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
    order = [task.name for task in in_dependency_order(PIPELINE)]
    assert sorted(order) == sorted(task.name for task in PIPELINE)
    for task in PIPELINE:
        for dependency in task.depends_on:
            assert order.index(dependency) < order.index(task.name)


def test_cycles_and_unknown_dependencies_are_refused():
    with pytest.raises(ValueError, match="cycle"):
        in_dependency_order((Step("a", ("b",)), Step("b", ("a",))))
    with pytest.raises(ValueError, match="unknown step 'c'"):
        in_dependency_order((Step("a", ("c",)),))


def test_each_step_waits_for_the_steps_that_write_what_it_reads():
    """The seed's graph (bronze, then data quality, silver and gold), derived from what each
    step reads rather than listed by hand."""
    assert {step.name: set(step.depends_on) for step in PIPELINE} == {
        "bronze_posts": set(),
        "bronze_users": set(),
        "bronze_tables": set(),
        "bronze_posts_dataquality": {"bronze_posts", "bronze_users"},
        "silver_posts": {"bronze_posts_dataquality"},
        "silver_users": {"bronze_users"},
        "gold_posts_users": {"silver_posts", "silver_users"},
        "gold_most_popular_tags": {"silver_posts"},
    }


def test_a_step_may_read_only_a_table_one_step_writes():
    writers = (
        Step("a", writes=("bronze.x", "bronze.shared")),
        Step("b", writes=("bronze.shared",)),
    )
    with pytest.raises(ValueError, match="step c reads bronze.shared, which a, b writes"):
        waiting_for_writers((*writers, Step("c", reads=("bronze.shared",))))
    with pytest.raises(ValueError, match="step c reads silver.y, which no step writes"):
        waiting_for_writers((*writers, Step("c", reads=("silver.y",))))
    assert waiting_for_writers((*writers, Step("c", reads=("bronze.x",))))[-1].depends_on == ("a",)


class Recorder:
    """Calls of run_graph's task function: when each started and ended."""

    def __init__(self, fail: str = "", meet: tuple[str, ...] = ()):
        self.events: list[tuple[str, str]] = []
        self.fail, self.lock = fail, threading.Lock()
        self.meet, self.barrier = set(meet), threading.Barrier(max(len(meet), 1), timeout=10)

    def __call__(self, task: Step) -> None:
        with self.lock:
            self.events.append(("start", task.name))
        if task.name in self.meet:  # Passes only if every one of `meet` runs at once.
            self.barrier.wait()
        time.sleep(0.01)
        if task.name == self.fail:
            raise RuntimeError(f"{task.name} failed")
        with self.lock:
            self.events.append(("end", task.name))


def test_the_graph_runs_each_task_after_its_dependencies_and_roots_side_by_side():
    roots = tuple(task.name for task in PIPELINE if not task.depends_on)
    assert len(roots) > 1
    recorder = Recorder(meet=roots)
    run_graph(PIPELINE, recorder, parallel=len(PIPELINE))
    position = {event: index for index, event in enumerate(recorder.events)}
    assert {name for kind, name in recorder.events if kind == "end"} == {
        task.name for task in PIPELINE
    }
    for task in PIPELINE:
        for dependency in task.depends_on:
            assert position[("end", dependency)] < position[("start", task.name)]


def test_one_at_a_time_the_graph_runs_in_dependency_order():
    recorder = Recorder()
    run_graph(PIPELINE, recorder, parallel=1)
    order = [task.name for task in in_dependency_order(PIPELINE)]
    assert recorder.events == [(kind, name) for name in order for kind in ("start", "end")]


def test_one_at_a_time_ctrl_c_reaches_the_running_task():
    """Python delivers KeyboardInterrupt to the main thread only: a task run in a worker
    thread would go on after Ctrl-C, and the run would hang on it."""
    threads = []
    run_graph(PIPELINE, lambda task: threads.append(threading.current_thread()), parallel=1)
    assert threads == [threading.main_thread()] * len(PIPELINE)


def test_after_a_failure_no_task_starts_and_the_error_is_raised():
    recorder = Recorder(fail="bronze_users")
    with pytest.raises(RuntimeError, match="bronze_users failed"):
        run_graph(PIPELINE, recorder, parallel=1)
    started = [name for kind, name in recorder.events if kind == "start"]
    order = [task.name for task in in_dependency_order(PIPELINE)]
    assert started == order[: order.index("bronze_users") + 1]


def test_every_graph_task_has_a_notebook_and_a_step():
    names = {task.name for task in PIPELINE}
    assert names >= SEED_NAMES
    assert names == set(steps.STEPS)
    assert names == {path.stem for path in NOTEBOOKS.glob("*.ipynb")} - {"explore"}


def assert_step_notebook_shape(notebook: dict, name: str) -> None:
    """Thin, parameterised and stripped: the parameters, the run opened, one call of the
    step `name`, displays, and the run finished."""
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert all(not cell.get("outputs") and cell.get("execution_count") is None for cell in code)
    parameters = [c for c in code if "parameters" in c["metadata"].get("tags", [])]
    assert len(parameters) == 1
    for parameter in RUN_PARAMETERS:
        assert f"{parameter} = " in "".join(parameters[0]["source"])
    # Run by hand, a notebook loads the sample `make local-run` ingests.
    assert f'site = "{SAMPLE_SITE}"' in "".join(parameters[0]["source"])
    source = "\n".join("".join(cell["source"]) for cell in code)
    assert "sys.path" not in source and "%run" not in source
    assert len(code) <= 6
    # One shape: the parameters, the run opened, one call of the step, displays.
    assert code[0] is parameters[0]
    assert "".join(code[1]["source"]).endswith("ctx = open_run(site, dump_id, run_id)")
    call = rf"(\w+) = steps\.{name}\(ctx\)(\n\1)?"  # the result, perhaps shown
    assert re.fullmatch(call, "".join(code[2]["source"]))
    assert f"steps.{name}(" not in "".join(map("".join, (c["source"] for c in code[3:])))
    # Last, so that on Databricks its exit value ends the notebook after the display.
    assert "".join(code[-1]["source"]).startswith("finish_run(ctx)")


@pytest.mark.parametrize("task", PIPELINE, ids=lambda task: task.name)
def test_notebook_is_thin_parameterised_and_stripped(task):
    notebook = json.loads((NOTEBOOKS / f"{task.name}.ipynb").read_text())
    assert_step_notebook_shape(notebook, task.name)
