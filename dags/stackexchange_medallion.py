"""stackexchange_medallion: the bronze, silver and gold notebooks, on the chosen target.

Scheduled on the raw Posts and Users Assets together. The graph comes from
`lakehouse.steps.PIPELINE`, the same definition the local runner and the Databricks
job use. Target `local` runs each notebook with papermill; target `databricks` runs
the same graph as one Databricks workflow (or an already deployed job, by name).
"""

from datetime import UTC, datetime, timedelta

from airflow.providers.databricks.operators.databricks_workflow import (
    DatabricksWorkflowTaskGroup,
)
from airflow.sdk import Param, dag, task, task_group

from lakehouse.graph import RUN_PARAMETERS, in_dependency_order
from lakehouse.steps import LAST_NOTEBOOKS, PIPELINE
from lakehouse.target import TARGET_VARIABLE, TARGETS, chosen_target
from orchestration.assets import RAW_ASSETS
from orchestration.config import OrchestrationSettings
from orchestration.connections import DATABRICKS_CONN_ID
from orchestration.databricks_operators import (
    LakeDatabricksNotebookOperator,
    LakeDatabricksRunNowOperator,
    workflow_compute,
)
from orchestration.notebook_operator import LakeNotebookOperator

SETTINGS = OrchestrationSettings()
NOTEBOOK_TIMEOUT = timedelta(minutes=SETTINGS.notebook_timeout_minutes)
ROOTS = [task.name for task in PIPELINE if not task.depends_on]
WORKFLOW_COMPUTE, NOTEBOOK_COMPUTE = workflow_compute(SETTINGS)
# Each task of a site's group is labelled by its site in the UI, not by 0, 1, 2.
SITE_GROUP = {"map_index_template": "{{ ti.xcom_pull('runs')[ti.map_index].site }}"}


def _wire(operators: dict) -> None:
    for node in PIPELINE:
        for dependency in node.depends_on:
            operators[dependency] >> operators[node.name]


@dag(
    dag_id="stackexchange_medallion",
    schedule=RAW_ASSETS["Posts.xml"] & RAW_ASSETS["Users.xml"],
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    # Only Asset events start it, so it may wait unpaused from the start: a first
    # produce_data_assets run then reaches gold with no second click, and its events are
    # never dropped by a paused consumer.
    is_paused_upon_creation=False,
    max_active_runs=1,
    max_active_tasks=SETTINGS.parallel_notebooks,
    default_args=SETTINGS.task_defaults(),
    params={
        "target": Param(
            None,
            type=["null", "string"],
            enum=[None, *TARGETS],
            # The form lists the enum: its empty choice is named, not shown as "null".
            values_display={None: f"Variable {TARGET_VARIABLE}, else local"},
            description=f"local or databricks; empty: Variable {TARGET_VARIABLE}, else local",
        ),
        # Optional params are nullable, so that the trigger form does not require them.
        "site": Param(
            None,
            type=["null", "string"],
            description="one site, or several separated by commas; empty: the sites in the "
            "Asset events",
        ),
        "dump_id": Param(
            None, type=["null", "string"], description="empty: the site's latest dump"
        ),
        "databricks_job_name": Param(
            SETTINGS.databricks_job_name or None,
            type=["null", "string"],
            description="run this deployed job instead of building the workflow",
        ),
    },
    description="Bronze, silver and gold tables of the sites whose dumps arrived (or the "
    "`site` param), locally or on Databricks",
    tags=["stackexchange", "medallion"],
    doc_md=__doc__,
)
def stackexchange_medallion():
    @task
    def runs(params=None, triggering_asset_events=None, run_id=None) -> list[dict]:
        from airflow.sdk.exceptions import AirflowFailException

        from orchestration.runs import NothingToRun, notebook_run_id, site_runs

        def extras(file_name: str) -> list[dict]:
            if not triggering_asset_events or RAW_ASSETS[file_name] not in triggering_asset_events:
                return []
            return [event.extra for event in triggering_asset_events[RAW_ASSETS[file_name]]]

        try:
            return site_runs(
                run_id=notebook_run_id(run_id),
                site=params["site"] or "",
                dump_id=params["dump_id"] or "",
                posts_events=extras("Posts.xml"),
                users_events=extras("Users.xml"),
            )
        except NothingToRun as error:  # No retry can name a site: fail now.
            raise AirflowFailException(str(error)) from None

    @task
    def claim(runs: list[dict]) -> None:
        """Hold each site's lock, so that a terminal run of it waits for this one."""
        from orchestration.connections import AWS_CONN_ID, lake_settings
        from orchestration.site_locks import claim_sites

        claim_sites(lake_settings(AWS_CONN_ID), runs, hold_for=NOTEBOOK_TIMEOUT * len(PIPELINE))

    @task
    def release(runs: list[dict]) -> None:
        from orchestration.connections import AWS_CONN_ID, lake_settings
        from orchestration.site_locks import release_sites

        release_sites(lake_settings(AWS_CONN_ID), runs)

    @task.branch
    def choose_target(runs: list[dict], params=None) -> list[str]:
        from airflow.sdk import Variable
        from airflow.sdk.exceptions import AirflowFailException

        from orchestration.connections import (
            AWS_CONN_ID,
            check_databricks_defined,
            check_lake_reachable,
            lake_settings,
        )

        target = chosen_target(params["target"], Variable.get(TARGET_VARIABLE, default=None))
        if target == "local":
            check_lake_reachable(lake_settings(AWS_CONN_ID))
            return [f"local.{name}" for name in ROOTS]
        check_databricks_defined(DATABRICKS_CONN_ID)
        if params["databricks_job_name"]:
            return ["databricks_job.run_now"]
        try:  # A setting to change: no retry would help.
            SETTINGS.require_databricks_settings()
            SETTINGS.require_concurrent_sites(len(runs))
        except ValueError as error:
            raise AirflowFailException(str(error)) from None
        return ["databricks.workflow.launch"]

    @task
    def report(run: dict) -> None:
        """The site's report.html beside its executed notebooks, as `make local-run`'s."""
        from orchestration.connections import AWS_CONN_ID, lake_settings
        from orchestration.runs import site_run_dir
        from worker.report import write_site_report

        out = site_run_dir(SETTINGS.runs_dir, run) / "report.html"
        write_site_report(lake_settings(AWS_CONN_ID), run["site"], run["run_id"], out)
        print(f"{run['site']}'s report: {out}")

    @task_group(group_id="local", default_args=SITE_GROUP)
    def local(run):
        notebooks = {
            node.name: LakeNotebookOperator(
                task_id=node.name,
                notebook=node.name,
                writes=node.writes,
                notebooks_dir=SETTINGS.notebooks_dir,
                runs_dir=SETTINGS.runs_dir,
                parameters=run,
                execution_timeout=NOTEBOOK_TIMEOUT,
            )
            for node in in_dependency_order(PIPELINE)
        }
        _wire(notebooks)
        [notebooks[name] for name in LAST_NOTEBOOKS] >> report(run)

    @task_group(group_id="databricks", default_args=SITE_GROUP)
    def databricks(run):
        # One job, run once per site of the Airflow run, all at once.
        with DatabricksWorkflowTaskGroup(
            group_id="workflow",
            databricks_conn_id=DATABRICKS_CONN_ID,
            max_concurrent_runs=SETTINGS.databricks_concurrent_sites,
            **WORKFLOW_COMPUTE,
        ) as workflow:
            _wire(
                {
                    node.name: LakeDatabricksNotebookOperator(
                        notebook=node.name,
                        databricks_conn_id=DATABRICKS_CONN_ID,
                        notebook_path=f"{SETTINGS.databricks_notebook_dir}/{node.name}",
                        source="WORKSPACE",
                        notebook_params={
                            **dict.fromkeys(RUN_PARAMETERS, ""),
                            "catalog": SETTINGS.databricks_catalog,
                            "raw_root": SETTINGS.databricks_raw_root,
                        },
                        execution_timeout=NOTEBOOK_TIMEOUT,
                        **NOTEBOOK_COMPUTE,
                        **SETTINGS.databricks_polling(),
                    )
                    for node in in_dependency_order(PIPELINE)
                }
            )
        launch = workflow.get_child_by_label("launch")
        # Task-level notebook_params are copied into the job spec unrendered; the launch
        # task's own are templated and go to run-now, which hands them to every notebook.
        launch.notebook_params = run
        # Each site's launch finds the job by name, else creates it: one at a time, so
        # that a first run does not create it twice. The runs themselves overlap.
        launch.max_active_tis_per_dagrun = 1

    @task_group(group_id="databricks_job", default_args=SITE_GROUP)
    def databricks_job(run):
        LakeDatabricksRunNowOperator(
            task_id="run_now",
            databricks_conn_id=DATABRICKS_CONN_ID,
            job_name="{{ params.databricks_job_name }}",
            # The deployed job defines job parameters, which refuse the legacy slots.
            job_parameters=run,
            execution_timeout=NOTEBOOK_TIMEOUT,
            **SETTINGS.databricks_polling(),
        )

    site_runs = runs()
    claimed = claim(site_runs)
    # A teardown: the locks are given back whatever happened to the notebooks.
    released = release(site_runs).as_teardown(setups=claimed)
    (
        claimed
        >> choose_target(site_runs)
        >> [
            local.expand(run=site_runs),
            databricks.expand(run=site_runs),
            databricks_job.expand(run=site_runs),
        ]
        >> released
    )


stackexchange_medallion()
