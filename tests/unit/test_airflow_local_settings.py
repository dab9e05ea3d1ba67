"""The Airflow local settings of `make airflow`, the tests and the Kind install, loaded as
Airflow loads them (from AIRFLOW_HOME/config, as it starts): only the scheduler, whose
LocalExecutor forks the tasks, imports the providers first (BENCHMARKS.md)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from laptop.airflow_local import place_local_settings

PROVIDERS = (
    "airflow.providers.amazon.aws.hooks.s3",
    "airflow.providers.databricks.operators.databricks_workflow",
    "airflow.providers.papermill.operators.papermill",
)


def imported_by(component: str, home: Path) -> set[str]:
    """Which of PROVIDERS `airflow <component>` holds once Airflow has started."""
    place_local_settings(home)
    code = (
        "import json, sys\n"
        f"sys.argv = ['airflow', {component!r}]\n"
        "import airflow.settings\n"
        f"print(json.dumps([m for m in {list(PROVIDERS)!r} if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "AIRFLOW_HOME": str(home)},
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_the_scheduler_imports_the_providers_before_it_forks_a_task(tmp_path):
    assert imported_by("scheduler", tmp_path) == set(PROVIDERS)


def test_another_component_does_not_pay_for_them(tmp_path):
    assert imported_by("api-server", tmp_path) == set()
