"""How a failed Databricks run reaches its Airflow task: the notebooks' errors in one
line, read from the run's output, without ever hiding the provider's own error."""

import sys

import pytest

from dag_loading import DAGS_FOLDER

sys.path.insert(0, str(DAGS_FOLDER))

from airflow.sdk.exceptions import AirflowException, AirflowSkipException  # noqa: E402

from orchestration.databricks_operators import (  # noqa: E402
    NotebookRunFailed,
    failed_task_errors,
    task_run_error,
    with_notebook_errors,
)

TRACE = """---------------------------------------------------------------------------
Traceback (most recent call last):
  File "<command-1>", line 3, in <module>
    result = steps.silver_posts(ctx)
ValueError: Posts.xml row 12: Id is missing
"""


class OutputsHook:
    """A hook whose job run `1` has the tasks given, and whose task runs have outputs."""

    def __init__(self, tasks: list[dict], outputs: dict[int, dict]):
        self.tasks, self.outputs = tasks, outputs

    def get_run(self, run_id: int) -> dict:
        return {"run_id": run_id, "tasks": self.tasks}

    def get_run_output(self, run_id: int) -> dict:
        return self.outputs[run_id]


def task(key: str, run_id: int, start: int, result: str) -> dict:
    return {
        "task_key": key,
        "run_id": run_id,
        "start_time": start,
        "state": {"result_state": result},
    }


def test_the_error_is_the_line_that_says_what_went_wrong():
    hook = OutputsHook([], {7: {"error": "", "error_trace": TRACE}, 8: {"error": "ValueError: x"}})
    assert task_run_error(hook, 7) == "ValueError: Posts.xml row 12: Id is missing"
    assert task_run_error(hook, 8) == "ValueError: x"


def test_only_the_latest_attempt_of_each_task_counts():
    tasks = [
        task("silver_posts", 11, 100, "FAILED"),
        task("silver_posts", 12, 200, "SUCCESS"),  # the repair's attempt
        task("gold_posts_users", 13, 300, "FAILED"),
    ]
    hook = OutputsHook(tasks, {11: {"error": "old"}, 13: {"error": "KeyError: 'site'"}})
    assert failed_task_errors(hook, 1) == ["gold_posts_users: KeyError: 'site'"]


def test_the_providers_error_stands_where_no_notebook_error_is_found():
    failed = AirflowException("Task failed. Final state FAILED.")
    assert str(with_notebook_errors(failed, lambda: "nb: ValueError: x")) == "nb: ValueError: x"
    assert isinstance(with_notebook_errors(failed, lambda: "nb: ValueError: x"), NotebookRunFailed)
    assert with_notebook_errors(failed, lambda: "") is failed

    def outage():
        raise ConnectionError("Databricks API unreachable")

    assert with_notebook_errors(failed, outage) is failed
    skipped = AirflowSkipException("skip")
    assert with_notebook_errors(skipped, lambda: pytest.fail("not looked up")) is skipped
