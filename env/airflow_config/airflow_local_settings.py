"""Airflow's local settings, imported by every Airflow process at start: LocalAirflow
(`make airflow`, the tests) copies this file into AIRFLOW_HOME/config, and the Kind
install gives it to the chart (`airflowLocalSettings`).

The scheduler imports the providers' modules that the DAG files import, before its
LocalExecutor forks the workers that fork each task: a task then finds them imported,
instead of importing them again to parse its DAG file (about 1.3 s of each task's CPU,
papermill's optional cloud clients most of it; BENCHMARKS.md)."""

import sys

if sys.argv[1:2] == ["scheduler"]:
    import airflow.providers.amazon.aws.hooks.s3
    import airflow.providers.databricks.operators.databricks_workflow
    import airflow.providers.papermill.operators.papermill  # noqa: F401
