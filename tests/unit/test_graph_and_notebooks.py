"""The pipeline graph is sound, and each notebook matches it: thin, parameterised,
committed without outputs, importing the package only by its name."""

import json
from pathlib import Path

import pytest

from lakehouse import steps
from lakehouse.graph import PIPELINE, RUN_PARAMETERS, NotebookTask, in_dependency_order

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SEED_NAMES = {
    "bronze_posts", "bronze_users", "bronze_posts_dataquality", "silver_posts",
    "silver_users", "gold_posts_users", "gold_most_popular_tags",
}  # fmt: skip


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
    assert len(code) <= 5
