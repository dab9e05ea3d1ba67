"""The Databricks provider's operators, with each notebook's result as Asset events.

A pipeline notebook ends with the tables its step changed as its exit value
(lakehouse.runtime.finish_run). Once a run is over these operators read that value from
the run's output (`runs/get-output`, per task run) and resolve their outlet alias to
those tables, as the local notebook operator does from the lake.
"""

import json

from airflow.providers.databricks.hooks.databricks import DatabricksHook
from airflow.providers.databricks.operators.databricks import (
    DatabricksNotebookOperator,
    DatabricksRunNowOperator,
)

from lakehouse.graph import PIPELINE
from orchestration.table_events import emit_table_events, tables_alias

WRITES = {task.notebook: task.writes for task in PIPELINE}
DEPLOYED_JOB_ALIAS = "databricks_job"


def notebook_result(hook: DatabricksHook, task_run_id: int, log) -> dict:
    """What the task run's notebook passed to `dbutils.notebook.exit`, or {} (logged) when
    it passed nothing readable: a notebook from before finish_run, or a cut value."""
    output = hook.get_run_output(task_run_id).get("notebook_output") or {}
    try:
        result = json.loads(output.get("result") or "")
    except ValueError:
        result = None
    if not isinstance(result, dict) or output.get("truncated"):
        log.warning(
            "Databricks task run %s returned no table changes (no exit value, or a cut one): "
            "no Asset events for it. Deploy the current notebooks (`make bundle`).",
            task_run_id,
        )
        return {}
    return result


def latest_task_runs(hook: DatabricksHook, run_id: int) -> dict[str, int]:
    """Per task key of the job run, the run id of its latest attempt."""
    task_runs = sorted(hook.get_run_tasks(run_id), key=lambda task: task["start_time"])
    return {task["task_key"]: task["run_id"] for task in task_runs}


def emit_notebook_events(alias, hook: DatabricksHook, task_key: str, task_run_id: int, log):
    """The Asset events of the tables the task run's notebook changed, into `alias`."""
    result = notebook_result(hook, task_run_id, log)
    tables = result.get("tables", {})
    emit_table_events(alias, task_key, result.get("site", ""), tables, WRITES[task_key], log)


class LakeDatabricksNotebookOperator(DatabricksNotebookOperator):
    """A pipeline notebook in the Databricks workflow; its outlet resolves to the tables
    the notebook changed."""

    def __init__(self, *, notebook: str, **kwargs) -> None:
        super().__init__(
            task_id=notebook,
            databricks_task_key=notebook,
            outlets=[tables_alias(notebook)],
            **kwargs,
        )
        self.notebook = notebook

    def execute(self, context) -> None:
        super().execute(context)  # Deferred (deferrable=True): execute_complete follows.
        self._emit(context, self._get_current_databricks_task()["run_id"])

    def execute_complete(self, context, event: dict) -> None:
        super().execute_complete(context, event)
        # The trigger watched this task's own run (its latest attempt).
        self._emit(context, event["run_id"])

    def _emit(self, context, task_run_id: int) -> None:
        alias = context["outlet_events"][tables_alias(self.notebook)]
        emit_notebook_events(alias, self._hook, self.notebook, task_run_id, self.log)


class LakeDatabricksRunNowOperator(DatabricksRunNowOperator):
    """A deployed job of the pipeline; its outlet resolves to the tables its notebooks
    changed, one event each."""

    def __init__(self, **kwargs) -> None:
        super().__init__(outlets=[tables_alias(DEPLOYED_JOB_ALIAS)], **kwargs)

    def execute(self, context):
        run_id = super().execute(context)  # Deferred (deferrable=True): execute_complete follows.
        self._emit(context, self.run_id)
        return run_id

    def execute_complete(self, context, event: dict | None = None) -> None:
        super().execute_complete(context, event)  # A repair defers again, and returns here.
        if event:
            self._emit(context, event["run_id"])

    def _emit(self, context, job_run_id: int) -> None:
        alias = context["outlet_events"][tables_alias(DEPLOYED_JOB_ALIAS)]
        for task_key, task_run_id in latest_task_runs(self._hook, job_run_id).items():
            if task_key in WRITES:  # A deployed job may hold tasks of its own.
                emit_notebook_events(alias, self._hook, task_key, task_run_id, self.log)
