"""Orchestration settings, from `LAKE_AIRFLOW_*` environment variables.

Read when a DAG file is parsed, so they come from the environment only: no Variable
and no connection is read at import time. The target is chosen again at run time.
"""

import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Self

from airflow.sdk import CronTriggerTimetable
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from lakehouse.settings import LakeSettings
from lakehouse.steps import PIPELINE
from lakehouse.target import TARGET_VARIABLE
from worker.bundle_job import bundle_target
from worker.databricks_compute import Compute
from worker.paths import BUNDLE_FILE, NOTEBOOKS_DIR, RUNS_DIR, SAMPLE_DIR, WORK_DIR

# Schedules Airflow takes as they are, not as a cron expression.
NOT_CRON = ("@once", "@continuous")


def _default_parallel_notebooks() -> int:
    """Notebooks that are clients of one Spark Connect server (LAKE_SPARK_REMOTE) spend
    most of their time starting their kernels, so the three bronze ones side by side
    finish sooner even on 2 cores. A notebook that starts a Spark of its own (no server,
    as on Kind) is slower beside another on 2 cores: one per 2 cores
    (docs/benchmarks-history.md)."""
    if LakeSettings().spark_remote:
        return len([task for task in PIPELINE if not task.depends_on])
    return max(1, (os.cpu_count() or 2) // 2)


class OrchestrationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LAKE_AIRFLOW_", extra="ignore")

    # What produce_data_assets ingests: `sample`, site names, archive URLs or paths.
    dumps: Annotated[list[str], NoDecode] = ["sample"]
    # produce_data_assets' schedule; `none` leaves it to manual and API triggers.
    produce_schedule: str | None = "@daily"
    retries: int = Field(default=2, ge=0)
    retry_delay_seconds: int = Field(default=60, ge=1)
    notebook_timeout_minutes: int = Field(default=120, ge=1)
    parallel_notebooks: int = Field(default_factory=_default_parallel_notebooks, ge=1)
    ingest_timeout_minutes: int = Field(default=360, ge=1)
    notebooks_dir: Path = NOTEBOOKS_DIR
    # Executed notebooks go to <runs_dir>/<run id>/<site>/.
    runs_dir: Path = RUNS_DIR
    work_dir: Path = WORK_DIR
    sample_dir: Path = SAMPLE_DIR
    # The bundle target (databricks.yml) whose catalog, runtime and cluster size the
    # Databricks workflow built here uses; the settings below override what it says.
    databricks_target: str = "prod"
    databricks_notebook_dir: str = ""
    # What the notebooks get as the `catalog` and `raw_root` widgets on Databricks.
    databricks_catalog: str = ""
    databricks_raw_root: str = ""
    # Where the workflow built here runs its notebooks: serverless (the bundle's default
    # job's compute), or a job cluster of the bundle's runtime and size under this policy.
    databricks_compute: Compute = "serverless"
    databricks_cluster_policy_id: str = ""
    databricks_spark_version: str = ""
    databricks_cluster_workers: int | None = Field(default=None, ge=1)
    # Each site of a run is a run of the workflow's one job, which allows this many at
    # once; a run with more sites is refused before any starts.
    databricks_concurrent_sites: int = Field(default=4, ge=1)
    # A job already deployed under this name is run instead of building the workflow.
    databricks_job_name: str = ""
    # How often a task asks Databricks how its run is going; unset, the providers'
    # defaults (5 s for a notebook of the workflow, 30 s for a deployed job).
    databricks_poll_seconds: int | None = Field(default=None, ge=1)

    def databricks_polling(self) -> dict[str, int]:
        """The operators' polling argument, when the setting is given."""
        if self.databricks_poll_seconds is None:
            return {}
        return {"polling_period_seconds": self.databricks_poll_seconds}

    @model_validator(mode="after")
    def _the_target_is_not_set_here(self) -> Self:
        """The target has one setting in Airflow, the Variable (and a run's param)."""
        if os.environ.get("LAKE_AIRFLOW_TARGET"):
            raise ValueError(
                "LAKE_AIRFLOW_TARGET is no longer read: set the Airflow Variable "
                f"{TARGET_VARIABLE} instead (from the environment: "
                f"AIRFLOW_VAR_{TARGET_VARIABLE.upper()})"
            )
        return self

    @model_validator(mode="after")
    def _bundle_target_fills_the_rest(self) -> Self:
        """Notebook folder, catalog, runtime and cluster size as `databricks bundle deploy -t
        <target>` sets them, unless set here. Without databricks.yml (an image that lacks
        it) they stay empty, and a run on Databricks names the settings it needs."""
        if BUNDLE_FILE.is_file():
            target = bundle_target(self.databricks_target, BUNDLE_FILE)
            self.databricks_notebook_dir = self.databricks_notebook_dir or target.notebook_dir
            self.databricks_catalog = self.databricks_catalog or target.catalog
            variables = target.variables
            self.databricks_spark_version = self.databricks_spark_version or variables.get(
                "spark_version", ""
            )
            if self.databricks_cluster_workers is None and "cluster_workers" in variables:
                self.databricks_cluster_workers = int(variables["cluster_workers"])
        return self

    def require_databricks_settings(self) -> None:
        """The workflow built here passes catalog and raw location to every notebook, and
        on a cluster creates one."""
        needed = ["catalog", "raw_root", "notebook_dir"]
        if self.databricks_compute == "cluster":
            needed += ["cluster_policy_id", "spark_version", "cluster_workers"]
        missing = [
            f"LAKE_AIRFLOW_DATABRICKS_{name.upper()}"
            for name in needed
            if not getattr(self, f"databricks_{name}")
        ]
        if missing:
            raise ValueError(
                f"target databricks needs {' and '.join(missing)} (or the param "
                "databricks_job_name, to run the deployed job with its own defaults)"
            )

    def require_concurrent_sites(self, sites: int) -> None:
        """The workflow's runs of one Airflow run all start at once, and the provider fails
        a launch whose run Databricks queues (or skips) beyond the job's limit."""
        if sites > self.databricks_concurrent_sites:
            raise ValueError(
                f"{sites} sites in one run, but the Databricks workflow runs at most "
                f"{self.databricks_concurrent_sites} at once: raise "
                "LAKE_AIRFLOW_DATABRICKS_CONCURRENT_SITES, or run the deployed job by name "
                "(param databricks_job_name), which queues its runs"
            )

    def produce_timetable(self) -> CronTriggerTimetable | str | None:
        """produce_data_assets' schedule, whose first run is the next tick after the DAG
        appears: unpausing it (as the trigger form offers) runs only what was triggered.
        Without a start_date, `run_immediately` decides; False would still run the tick
        just past within a tenth of the period (`_calc_first_run` in trigger.py)."""
        if self.produce_schedule is None or self.produce_schedule in NOT_CRON:
            return self.produce_schedule
        return CronTriggerTimetable(
            self.produce_schedule, timezone="UTC", run_immediately=timedelta(0)
        )

    def task_defaults(self) -> dict:
        """Both DAGs' `default_args`: retries with exponential backoff."""
        return {
            "retries": self.retries,
            "retry_delay": timedelta(seconds=self.retry_delay_seconds),
            "retry_exponential_backoff": True,
        }

    @field_validator("produce_schedule")
    @classmethod
    def _none_means_unscheduled(cls, value: str | None) -> str | None:
        if value is None or value.strip().lower() in ("", "none"):
            return None
        if value in NOT_CRON:
            return value
        try:
            CronTriggerTimetable(value, timezone="UTC").validate()
        except Exception as error:
            raise ValueError(
                f"{value!r} is not a cron expression or preset ({error}); "
                "use e.g. `@daily`, `0 6 * * 1`, or `none`"
            ) from None
        return value

    @field_validator("dumps", mode="before")
    @classmethod
    def _comma_separated(cls, value):
        if isinstance(value, str):
            value = [entry.strip() for entry in value.split(",") if entry.strip()]
        if not value:
            raise ValueError("LAKE_AIRFLOW_DUMPS is empty; name at least one dump or `sample`")
        return value
