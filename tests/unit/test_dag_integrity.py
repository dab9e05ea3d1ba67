"""The DAGs parse, schedule on what the producer emits, and render the one graph."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from airflow.timetables.base import TimeRestriction

from dag_loading import DAGS_FOLDER, load_dagbag
from lakehouse.steps import PIPELINE, TABLES
from worker.paths import REPO_ROOT

MEDALLION = "stackexchange_medallion"
PRODUCER = "produce_data_assets"

# Imports dags/ with sockets and Variable reads made to fail, in a fresh interpreter so
# no module is already imported; prints the import errors, and whether Spark was
# imported, as JSON.
_IMPORT_WITHOUT_NETWORK_OR_VARIABLES = """
import json, socket, sys
def refuse(*args, **kwargs):
    raise RuntimeError("network or Variable access at import time")
socket.socket.connect = refuse
socket.create_connection = refuse
import airflow.sdk
airflow.sdk.Variable.get = staticmethod(refuse)
sys.path.insert(0, sys.argv[1])
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({"errors": bag.import_errors, "dags": sorted(bag.dag_ids),
                  "spark": "pyspark" in sys.modules}))
"""


@pytest.fixture(scope="module")
def dagbag():
    return load_dagbag()


@pytest.fixture(scope="module")
def medallion(dagbag):
    return dagbag.dags[MEDALLION]


def test_dags_import_without_network_or_variables(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_WITHOUT_NETWORK_OR_VARIABLES, str(DAGS_FOLDER)],
        capture_output=True,
        text=True,
        env={"AIRFLOW_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    # No Spark either: the DAG processor parses these files every 30 seconds.
    assert loaded == {"errors": {}, "dags": [PRODUCER, MEDALLION], "spark": False}


def test_dagbag_has_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {PRODUCER, MEDALLION} <= set(dagbag.dag_ids)


def _scheduled_uris(condition) -> set[str]:
    """The Asset URIs in a schedule condition (an Asset, or AssetAll/AssetAny of them)."""
    if hasattr(condition, "objects"):
        return {uri for part in condition.objects for uri in _scheduled_uris(part)}
    return {condition.uri}


def _outlet_uris(dag) -> set[str]:
    """The Assets the DAG's tasks declare (aliases resolve only when a task runs)."""
    from airflow.sdk import Asset

    return {a.uri for task in dag.tasks for a in task.outlets if isinstance(a, Asset)}


def test_every_scheduled_asset_is_produced_by_a_dag(dagbag):
    produced = {uri for dag in dagbag.dags.values() for uri in _outlet_uris(dag)}
    consumers = [
        dag for dag in dagbag.dags.values() if getattr(dag.timetable, "asset_condition", None)
    ]
    assert consumers
    for dag in consumers:
        wanted = _scheduled_uris(dag.timetable.asset_condition)
        assert wanted <= produced, (
            f"{dag.dag_id} waits for Assets no DAG emits: {wanted - produced}"
        )


def test_the_medallion_waits_for_posts_and_users_together(medallion):
    condition = medallion.timetable.asset_condition
    assert type(condition).__name__ == "AssetAll"
    assert {uri.rsplit("/", 1)[-1] for uri in _scheduled_uris(condition)} == {
        "Posts.xml",
        "Users.xml",
    }


def test_the_producer_emits_every_raw_file(dagbag):
    uris = _outlet_uris(dagbag.dags[PRODUCER])
    assert {uri.rsplit("/", 1)[-1] for uri in uris} >= {"Posts.xml", "Users.xml", "Votes.xml"}


@pytest.mark.parametrize("group", ["local", "databricks.workflow"])
def test_each_target_renders_the_graph(medallion, group):
    for node in PIPELINE:
        task = medallion.get_task(f"{group}.{node.name}")
        upstream = {
            task_id.rsplit(".", 1)[-1]
            for task_id in task.upstream_task_ids
            if task_id.startswith(group) and not task_id.endswith(".launch")
        }
        assert upstream == set(node.depends_on), node.name
        assert task.execution_timeout is not None and task.execution_timeout > timedelta(0)


@pytest.mark.parametrize("group", ["local", "databricks.workflow"])
def test_a_notebook_task_resolves_an_alias_to_the_tables_it_changed(medallion, group):
    from orchestration.table_events import tables_alias

    for node in PIPELINE:
        task = medallion.get_task(f"{group}.{node.name}")
        assert task.outlets == [tables_alias(node.name)]
        if group == "local":  # The local operator reads these tables' versions itself.
            assert task.writes == node.writes


def test_every_task_of_a_site_is_labelled_by_its_site(medallion):
    """The UI shows a mapped task's rendered map_index_template instead of 0, 1, 2."""
    runs = [{"site": "a.com"}, {"site": "b.org"}]

    class SecondSite:
        map_index = 1

        def xcom_pull(self, task_ids):
            return runs if task_ids == "runs" else None

    mapped = [task for task in medallion.tasks if task.get_closest_mapped_task_group()]
    assert len(mapped) > len(PIPELINE)
    for task in mapped:
        template = medallion.get_template_env().from_string(task.map_index_template)
        assert template.render(ti=SecondSite()) == "b.org", task.task_id


def test_a_deployed_job_resolves_an_alias_to_the_tables_its_notebooks_changed(medallion):
    from orchestration.databricks_operators import DEPLOYED_JOB_ALIAS
    from orchestration.table_events import tables_alias

    task = medallion.get_task("databricks_job.run_now")
    assert task.outlets == [tables_alias(DEPLOYED_JOB_ALIAS)]


def test_every_table_has_an_asset_that_some_notebook_updates():
    from orchestration.assets import TABLE_ASSETS

    written = {name for node in PIPELINE for name in node.writes}
    assert written == set(TABLES) == set(TABLE_ASSETS)


def test_one_run_at_a_time_with_retries(dagbag):
    for dag_id in (PRODUCER, MEDALLION):
        dag = dagbag.dags[dag_id]
        assert dag.max_active_runs == 1
        assert all(task.retries >= 1 for task in dag.tasks), dag_id
        assert all(task.retry_exponential_backoff for task in dag.tasks), dag_id


def test_an_unknown_target_is_rejected(medallion):
    from airflow.sdk.definitions.param import ParamsDict
    from airflow.sdk.exceptions import ParamValidationError

    params = ParamsDict(medallion.params)
    params["target"] = "databricks"
    params.validate()
    with pytest.raises(ParamValidationError, match="target"):
        params["target"] = "spark"
        params.validate()


def test_the_databricks_job_spec_is_the_graph_and_fits_the_sdk_types(medallion):
    from databricks.sdk.service.jobs import JobSettings

    from fakes.databricks_api import lost_fields

    launch = medallion.get_task("databricks.workflow.launch")
    spec = launch.create_workflow_json()
    assert lost_fields(spec, JobSettings.from_dict(spec).as_dict()) == []
    tasks = {task["task_key"]: task for task in spec["tasks"]}
    assert set(tasks) == {node.name for node in PIPELINE}
    for node in PIPELINE:
        task = tasks[node.name]
        assert {d["task_key"] for d in task["depends_on"]} == set(node.depends_on)
        assert task["notebook_task"]["notebook_path"].endswith(f"/{node.name}")
        # The job's own defaults are plain values, never an unrendered template.
        assert "{{" not in json.dumps(task["notebook_task"]["base_parameters"])
        # Serverless by default: the job's environment, no task libraries.
        assert task["environment_key"] == spec["environments"][0]["environment_key"]
        assert "libraries" not in task and "job_cluster_key" not in task
    assert spec["max_concurrent_runs"] > 1


def test_the_workflow_on_a_cluster_is_the_bundles_cluster_job():
    from orchestration.config import OrchestrationSettings
    from orchestration.databricks_operators import workflow_compute
    from worker.bundle_job import CLUSTER_JOB, bundle_target, jobs_resource
    from worker.paths import BUNDLE_FILE, JOB_LIBRARIES_FILE

    settings = OrchestrationSettings(databricks_compute="cluster", databricks_cluster_policy_id="p")
    group, task = workflow_compute(settings)
    bundle_job = jobs_resource(JOB_LIBRARIES_FILE)["resources"]["jobs"][CLUSTER_JOB]
    [bundle_cluster] = bundle_job["job_clusters"]
    assert group["job_clusters"] == [
        {
            **bundle_cluster,
            "new_cluster": {
                **bundle_cluster["new_cluster"],
                "spark_version": bundle_target("prod", BUNDLE_FILE).variables["spark_version"],
                "policy_id": "p",
                "num_workers": 2,
            },
        }
    ]
    assert group["notebook_packages"] == bundle_job["tasks"][0]["libraries"]
    assert task == {"job_cluster_key": bundle_job["tasks"][0]["job_cluster_key"]}


def test_ruff_airflow_rules_are_clean():
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--preview", "--select", "AIR", str(DAGS_FOLDER)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert done.returncode == 0, done.stdout


def test_the_medallion_triggers_with_its_defaults_and_every_param_optional(medallion):
    """The trigger form marks a param required unless its schema allows null: every
    medallion param is optional, and the defaults validate as they are."""
    from airflow.sdk.definitions.param import ParamsDict

    ParamsDict(medallion.params).validate()
    for name, param in medallion.params.items():
        assert "null" in param.schema["type"], name


def test_every_dag_says_what_it_does(dagbag):
    for dag_id in (PRODUCER, MEDALLION):
        assert len(dagbag.dags[dag_id].description or "") > 20, dag_id


def test_only_asset_events_start_the_medallion_so_it_waits_unpaused(dagbag):
    """A first produce_data_assets run reaches gold with one click (docs/airflow.md, "Start the
    local Airflow"); the producer, which has a schedule, waits to be unpaused."""
    assert dagbag.dags[MEDALLION].is_paused_upon_creation is False
    assert dagbag.dags[PRODUCER].is_paused_upon_creation is not False
    assert dagbag.dags[MEDALLION].timetable.asset_condition is not None


def test_unpausing_the_producer_runs_nothing_before_its_next_tick(dagbag):
    """Its trigger form offers to unpause it; that must not start the tick just past."""
    from airflow.serialization.decoders import decode_timetable
    from airflow.serialization.encoders import encode_timetable

    producer = dagbag.dags[PRODUCER]
    scheduled = decode_timetable(encode_timetable(producer.timetable))  # as the scheduler has it
    now = datetime.now(UTC)
    first = scheduled.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(producer.start_date, None, producer.catchup),
    )
    assert now < first.run_after <= now + timedelta(days=1)
