"""Adding a step is one declaration, `@step(reads=..., writes=...)` on its body in
`lakehouse.steps`, and one notebook, with the name and keys of the table it adds where
every table is named (`lakehouse.tables`): everything else follows. The test adds one to a
copy of the project and reads what the runner, the step records, the Databricks job and
the Airflow DAG make of it."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from test_graph_and_notebooks import assert_step_notebook_shape

from worker.paths import REPO_ROOT

NEW_STEP = "gold_answered_share"
TABLE_NAME = """
GOLD_ANSWERED_SHARE = "gold.answered_share"
PUBLISHED_KEYS[GOLD_ANSWERED_SHARE] = ("site",)
"""
DECLARATION = f'''

@step(reads=(SILVER_POSTS,), writes=(GOLD_ANSWERED_SHARE,))
def {NEW_STEP}(ctx: RunContext, run: StepRun) -> DataFrame:
    """The share of questions answered; returns the site's row."""
    def posts() -> DataFrame:
        return ctx.site_rows(SILVER_POSTS)

    _publish(ctx, run, lambda: {{GOLD_ANSWERED_SHARE: posts().groupBy("site").count()}})
    return ctx.site_rows(GOLD_ANSWERED_SHARE)
'''

# What the copy's package makes of its graph, as JSON: run in a fresh interpreter with the
# copy first on sys.path, so nothing of the checkout's package is already imported.
READ_THE_COPY = """
import json, sys
sys.path[:0] = [sys.argv[1] + "/notebooks", sys.argv[1] + "/dags"]
from airflow.dag_processing.dagbag import DagBag
from lakehouse import graph, steps
from worker.bundle_job import medallion_job
from worker.paths import JOB_LIBRARIES_FILE

assert steps.__file__.startswith(sys.argv[1]), steps.__file__
job = medallion_job(JOB_LIBRARIES_FILE, "serverless")
bag = DagBag(dag_folder=sys.argv[1] + "/dags")
assert not bag.import_errors, bag.import_errors
dag = bag.dags["stackexchange_medallion"]
print(json.dumps({
    "order": [task.name for task in graph.in_dependency_order(steps.PIPELINE)],
    "depends_on": {task.name: list(task.depends_on) for task in steps.PIPELINE},
    "bodies": sorted(steps.STEPS),
    "records": sorted(steps.STEP_DECLARATIONS),
    "tables": list(steps.TABLES),
    "job": {t["task_key"]: [d["task_key"] for d in t.get("depends_on", [])] for t in job["tasks"]},
    "notebooks": {t["task_key"]: t["notebook_task"]["notebook_path"] for t in job["tasks"]},
    "airflow": {
        task.task_id: sorted(task.upstream_task_ids) for task in dag.tasks
        if task.task_id.endswith("." + sys.argv[2])
    },
    "local_notebook": dag.get_task("local." + sys.argv[2]).input_nb,
}))
"""


def edited(path, old, new):
    """Replace the first `old` in the file with `new`."""
    source = path.read_text()
    assert old in source, f"{path}: {old!r} moved; update this test"
    path.write_text(source.replace(old, new, 1))


def add_the_step(project):
    """The three edits, to a copy of notebooks/ and dags/."""
    skipped = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints")
    for folder in ("notebooks", "dags"):
        shutil.copytree(REPO_ROOT / folder, project / folder, ignore=skipped)
    package = project / "notebooks" / "lakehouse"
    tables = package / "tables.py"
    tables.write_text(tables.read_text() + TABLE_NAME)
    steps = package / "steps.py"
    imported = "from lakehouse.tables import (\n"
    edited(steps, imported, f"{imported}    GOLD_ANSWERED_SHARE,\n")
    graph = "\n\n# The pipeline's graph"
    edited(steps, graph, f"{DECLARATION}{graph}")
    notebook = (project / "notebooks" / "silver_users.ipynb").read_text()
    renamed = notebook.replace("silver_users", NEW_STEP).replace(
        "silver.users", "gold.answered_share"
    )
    (project / "notebooks" / f"{NEW_STEP}.ipynb").write_text(renamed)


def test_a_step_added_in_one_place_reaches_every_runner(tmp_path):
    add_the_step(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", READ_THE_COPY, str(tmp_path), NEW_STEP],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "LAKE_AIRFLOW_NOTEBOOKS_DIR": str(tmp_path / "notebooks"),
        },
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    order = seen["order"]
    assert order.index("silver_posts") < order.index(NEW_STEP)
    assert seen["depends_on"][NEW_STEP] == ["silver_posts"]
    assert NEW_STEP in seen["bodies"] and NEW_STEP in seen["records"]
    assert "gold.answered_share" in seen["tables"]
    assert seen["job"][NEW_STEP] == ["silver_posts"]
    assert seen["notebooks"][NEW_STEP] == f"../notebooks/{NEW_STEP}.ipynb"
    # Both branches of the DAG, each after its own silver_posts.
    assert {
        task_id.removesuffix(NEW_STEP): [up for up in upstream if up.endswith("silver_posts")]
        for task_id, upstream in seen["airflow"].items()
    } == {
        "local.": ["local.silver_posts"],
        "databricks.workflow.": ["databricks.workflow.silver_posts"],
    }
    # Airflow's local task runs the new notebook, which has the shape every step's has.
    notebook = Path(seen["local_notebook"])
    assert notebook == tmp_path / "notebooks" / f"{NEW_STEP}.ipynb"
    assert_step_notebook_shape(json.loads(notebook.read_text()), NEW_STEP)
