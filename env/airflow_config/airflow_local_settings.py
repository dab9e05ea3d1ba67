"""Airflow's local settings (LocalAirflow copies them into AIRFLOW_HOME/config; the Kind
install gives them to the chart). The scheduler imports the providers the DAG files use
before its LocalExecutor forks the tasks, which then need not (BENCHMARKS.md)."""

import sys
from contextlib import suppress

__all__: list[str] = []  # Nothing here is a setting or a policy for Airflow to take.

# A provider that fails to import fails its DAG's parse, where the UI shows it; not here.
if sys.argv[1:2] == ["scheduler"]:
    with suppress(ImportError):
        import airflow.providers.amazon.aws.hooks.s3  # the s3:// Assets' handler
        import airflow.providers.databricks.operators.databricks_workflow
        import airflow.providers.papermill.operators.papermill  # noqa: F401
