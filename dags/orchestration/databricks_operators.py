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
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from lakehouse.steps import PIPELINE
from orchestration.config import OrchestrationSettings
from orchestration.table_events import emit_table_events, tables_alias
from worker.databricks_compute import (
    ENVIRONMENT_KEY,
    JOB_CLUSTER_KEY,
    job_cluster,
    job_packages,
    serverless_environment,
    task_libraries,
)
from worker.error_lines import message_line
from worker.paths import JOB_LIBRARIES_FILE

WRITES = {task.name: task.writes for task in PIPELINE}
DEPLOYED_JOB_ALIAS = "databricks_job"


def workflow_compute(settings: OrchestrationSettings) -> tuple[dict, dict]:
    """(The workflow group's arguments, each notebook task's) to run the notebooks with the
    job's libraries on the chosen compute, as the bundle's jobs do."""
    packages = job_packages(JOB_LIBRARIES_FILE)
    if settings.databricks_compute == "serverless":
        environments = {"environments": [serverless_environment(packages)]}
        return {"extra_job_params": environments}, {"environment_key": ENVIRONMENT_KEY}
    cluster = job_cluster(
        settings.databricks_spark_version,
        settings.databricks_cluster_policy_id,
        settings.databricks_cluster_workers,
    )
    group = {"job_clusters": [cluster], "notebook_packages": task_libraries(packages)}
    return group, {"job_cluster_key": JOB_CLUSTER_KEY}


class NotebookRunFailed(AirflowFailException):
    """A notebook on Databricks raised an error: the run is over, a retry would watch it
    fail again."""


def task_run_error(hook: DatabricksHook, task_run_id: int) -> str:
    """The line of the error a failed task run's notebook raised that says what went
    wrong, as `runs/get-output` gives it."""
    output = hook.get_run_output(task_run_id)
    return message_line(output.get("error") or "") or message_line(output.get("error_trace") or "")


def failed_task_errors(hook: DatabricksHook, run_id: int) -> list[str]:
    """`<task>: <its notebook's error>` for each task of the job run whose latest attempt
    failed."""
    latest = latest_attempts(hook.get_run(run_id).get("tasks", []))
    failed = [t for t in latest.values() if t["state"].get("result_state") == "FAILED"]
    return [f"{t['task_key']}: {task_run_error(hook, t['run_id'])}" for t in failed]


def latest_attempts(task_runs: list[dict]) -> dict[str, dict]:
    """Per task key of a job run's task runs, its latest attempt."""
    return {t["task_key"]: t for t in sorted(task_runs, key=lambda t: t["start_time"])}


def with_notebook_errors(error: AirflowException, errors) -> AirflowException:
    """The provider's own `error`, or, where it only says that a run failed, the
    notebooks' errors in one line. Looking them up must not hide the provider's error."""
    if type(error) is not AirflowException:  # Skips, deferrals and ours pass as they are.
        return error
    try:
        found = errors()
    except Exception:  # noqa: BLE001 (an API outage: the provider's error says enough)
        return error
    return NotebookRunFailed(found) if found else error


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
    latest = latest_attempts(hook.get_run_tasks(run_id))
    return {task_key: task["run_id"] for task_key, task in latest.items()}


def emit_notebook_events(alias, hook: DatabricksHook, task_key: str, task_run_id: int, log):
    """The Asset events of the tables the task run's notebook changed, into `alias`."""
    result = notebook_result(hook, task_run_id, log)
    tables = result.get("tables", {})
    emit_table_events(alias, task_key, result.get("site", ""), tables, WRITES[task_key], log)


class LakeDatabricksNotebookOperator(DatabricksNotebookOperator):
    """A pipeline notebook in the Databricks workflow; its outlet resolves to the tables
    the notebook changed, and its failure is the notebook's error, in one line.

    `environment_key` runs it on serverless with the job's environment of that key,
    which the provider's operator has no argument for."""

    def __init__(self, *, notebook: str, environment_key: str = "", **kwargs) -> None:
        super().__init__(
            task_id=notebook,
            databricks_task_key=notebook,
            outlets=[tables_alias(notebook)],
            **kwargs,
        )
        self.notebook = notebook
        self.environment_key = environment_key

    def _convert_to_databricks_workflow_task(self, *args, **kwargs) -> dict:
        task = super()._convert_to_databricks_workflow_task(*args, **kwargs)
        if self.environment_key:  # Serverless: the environment holds the libraries.
            task.pop("libraries", None)
            task["environment_key"] = self.environment_key
        return task

    def execute(self, context) -> None:
        try:
            super().execute(context)  # Deferred (deferrable=True): execute_complete follows.
        except AirflowException as error:
            raise self._failure(error, self._task_run_id) from None
        self._emit(context, self._task_run_id())

    def _task_run_id(self) -> int:
        return self._get_current_databricks_task()["run_id"]

    def execute_complete(self, context, event: dict) -> None:
        # The trigger watched this task's own run (its latest attempt).
        try:
            super().execute_complete(context, event)
        except AirflowException as error:
            raise self._failure(error, lambda: event["run_id"]) from None
        self._emit(context, event["run_id"])

    def _failure(self, error: AirflowException, task_run_id) -> AirflowException:
        def errors() -> str:
            notebook_error = task_run_error(self._hook, task_run_id())
            return notebook_error and f"{self.notebook} failed on Databricks: {notebook_error}"

        return with_notebook_errors(error, errors)

    def _emit(self, context, task_run_id: int) -> None:
        alias = context["outlet_events"][tables_alias(self.notebook)]
        emit_notebook_events(alias, self._hook, self.notebook, task_run_id, self.log)


class LakeDatabricksRunNowOperator(DatabricksRunNowOperator):
    """A deployed job of the pipeline; its outlet resolves to the tables its notebooks
    changed, one event each."""

    def __init__(self, **kwargs) -> None:
        super().__init__(outlets=[tables_alias(DEPLOYED_JOB_ALIAS)], **kwargs)

    def execute(self, context):
        try:
            run_id = super().execute(context)  # Deferred: execute_complete follows.
        except AirflowException as error:
            raise self._failure(error, lambda: self.run_id) from None
        self._emit(context, self.run_id)
        return run_id

    def execute_complete(self, context, event: dict | None = None) -> None:
        try:
            super().execute_complete(context, event)  # A repair defers again, returns here.
        except AirflowException as error:
            raise self._failure(error, lambda: event["run_id"]) from None
        if event:
            self._emit(context, event["run_id"])

    def _failure(self, error: AirflowException, run_id) -> AirflowException:
        def errors() -> str:
            failed = failed_task_errors(self._hook, run_id())
            return failed and f"Databricks job run {run_id()} failed: {'; '.join(failed)}"

        return with_notebook_errors(error, errors)

    def _emit(self, context, job_run_id: int) -> None:
        alias = context["outlet_events"][tables_alias(DEPLOYED_JOB_ALIAS)]
        for task_key, task_run_id in latest_task_runs(self._hook, job_run_id).items():
            if task_key in WRITES:  # A deployed job may hold tasks of its own.
                emit_notebook_events(alias, self._hook, task_key, task_run_id, self.log)
