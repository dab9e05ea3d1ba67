"""The Airflow local settings that `make airflow`, the tests and the Kind install give every
Airflow process: only the scheduler, whose LocalExecutor forks the tasks, imports the
providers first (BENCHMARKS.md: a task's CPU about halves)."""

import json
import subprocess
import sys

import pytest

from laptop.airflow_local import LOCAL_SETTINGS

PROVIDERS = (
    "airflow.providers.papermill.operators.papermill",
    "airflow.providers.databricks.operators.databricks_workflow",
)


def imported_by(component: str) -> set[str]:
    """Which of PROVIDERS are imported once the settings ran in `airflow <component>`."""
    code = (
        "import json, runpy, sys\n"
        f"sys.argv = ['airflow', {component!r}]\n"
        f"runpy.run_path({str(LOCAL_SETTINGS)!r})\n"
        f"print(json.dumps([m for m in {list(PROVIDERS)!r} if m in sys.modules]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_the_scheduler_imports_the_providers_before_it_forks_a_task():
    assert imported_by("scheduler") == set(PROVIDERS)


@pytest.mark.parametrize("component", ["api-server", "dag-processor", "triggerer", "db"])
def test_no_other_component_pays_for_them(component):
    assert imported_by(component) == set()
