"""The DAGs' helpers without a scheduler: which sites a run processes, settings from
connections, and what a failing notebook task leaves behind."""

import json
import sys

import nbformat
import pytest
import yaml

from dag_loading import DAGS_FOLDER

sys.path.insert(0, str(DAGS_FOLDER))

from lakehouse.table_changes import changed_tables, table_extras  # noqa: E402
from lakehouse.target import chosen_target  # noqa: E402
from orchestration.config import OrchestrationSettings  # noqa: E402
from orchestration.connections import ConnectionProblem, lake_settings  # noqa: E402
from orchestration.databricks_operators import latest_task_runs, notebook_result  # noqa: E402
from orchestration.raw_events import already_ingested_reason  # noqa: E402
from orchestration.runs import NothingToRun, notebook_run_id, site_runs  # noqa: E402
from orchestration.table_events import result_line  # noqa: E402
from worker.paths import REPO_ROOT  # noqa: E402


def _event(site: str, dump_id: str) -> dict:
    return {"site": site, "dump_id": dump_id, "sha1": "0" * 40}


def test_a_site_param_wins_over_events():
    runs = site_runs(run_id="r", site="a.com", posts_events=[_event("b.com", "2024-01-01-x")])
    assert runs == [{"site": "a.com", "dump_id": "", "run_id": "r"}]


def test_the_site_param_may_name_several_sites_each_at_its_latest_dump():
    runs = site_runs(run_id="r", site=" b.com, a.com,b.com ")
    assert [(run["site"], run["dump_id"]) for run in runs] == [("a.com", ""), ("b.com", "")]
    with pytest.raises(NothingToRun, match="dump_id '2024-01-01-x' names one site's dump"):
        site_runs(run_id="r", site="a.com,b.com", dump_id="2024-01-01-x")


def test_each_site_runs_once_at_its_latest_complete_dump():
    posts = [
        _event("a.com", "2024-01-01-aa"),
        _event("a.com", "2024-04-01-bb"),
        _event("b.com", "2024-02-01-cc"),
    ]
    users = [
        _event("a.com", "2024-01-01-aa"),
        _event("a.com", "2024-04-01-bb"),
        _event("b.com", "2024-02-01-cc"),
    ]
    assert site_runs(run_id="r", posts_events=posts, users_events=users) == [
        {"site": "a.com", "dump_id": "2024-04-01-bb", "run_id": "r"},
        {"site": "b.com", "dump_id": "2024-02-01-cc", "run_id": "r"},
    ]


def test_a_dump_with_posts_but_no_users_event_is_not_run():
    with pytest.raises(NothingToRun, match="site"):
        site_runs(run_id="r", posts_events=[_event("a.com", "2024-01-01-aa")])


def test_run_ids_become_folder_names():
    assert notebook_run_id("manual__2026-11-24T11:21:18.797120+00:00") == (
        "manual__2026-11-24T11_21_18.797120_00_00"
    )


def test_the_dump_list_reads_comma_separated(monkeypatch):
    monkeypatch.setenv("LAKE_AIRFLOW_DUMPS", "sample, french.meta.stackexchange.com")
    monkeypatch.setenv("LAKE_AIRFLOW_PRODUCE_SCHEDULE", "none")
    settings = OrchestrationSettings()
    assert settings.dumps == ["sample", "french.meta.stackexchange.com"]
    assert settings.produce_schedule is None


def test_an_empty_dump_list_is_named(monkeypatch):
    monkeypatch.setenv("LAKE_AIRFLOW_DUMPS", " , ")
    with pytest.raises(ValueError, match="LAKE_AIRFLOW_DUMPS"):
        OrchestrationSettings()


def test_the_databricks_workflow_needs_the_raw_root_named():
    with pytest.raises(ValueError, match="needs LAKE_AIRFLOW_DATABRICKS_RAW_ROOT "):
        OrchestrationSettings().require_databricks_settings()
    ready = OrchestrationSettings(
        databricks_catalog="main", databricks_raw_root="s3://l/raw", databricks_notebook_dir="/n"
    )
    ready.require_databricks_settings()
    on_cluster = ready.model_copy(update={"databricks_compute": "cluster"})
    with pytest.raises(ValueError, match="needs LAKE_AIRFLOW_DATABRICKS_CLUSTER_POLICY_ID "):
        on_cluster.require_databricks_settings()


def test_more_sites_than_the_workflow_runs_at_once_are_refused_with_the_setting():
    settings = OrchestrationSettings(databricks_concurrent_sites=2)
    settings.require_concurrent_sites(2)
    with pytest.raises(ValueError, match="3 sites .* LAKE_AIRFLOW_DATABRICKS_CONCURRENT_SITES"):
        settings.require_concurrent_sites(3)


def test_a_missing_connection_is_named(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_AWS_CONN", raising=False)
    with pytest.raises(ConnectionProblem, match="'aws_conn'.*AIRFLOW_CONN_AWS_CONN"):
        lake_settings("aws_conn")


def test_a_wrong_connection_is_named(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_CONN",
        json.dumps({"conn_type": "aws", "extra": {"endpoint_url": "localhost:4566/x"}}),
    )
    with pytest.raises(ConnectionProblem, match="'aws_conn'.*LAKE_S3_ENDPOINT"):
        lake_settings("aws_conn")


def test_the_connection_gives_the_lake_its_endpoint_and_keys(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_CONN",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "key",
                "password": "secret",
                "extra": {"endpoint_url": "http://127.0.0.1:9999", "region_name": "eu-west-1"},
            }
        ),
    )
    # Airflow's own lake is local whatever LAKE_TARGET says: its kernels get target local.
    monkeypatch.setenv("LAKE_TARGET", "databricks")
    settings = lake_settings("aws_conn")
    assert settings.target == "local"
    assert settings.s3_endpoint == "http://127.0.0.1:9999"
    assert settings.aws_access_key_id == "key"
    assert settings.aws_secret_access_key.get_secret_value() == "secret"
    assert settings.aws_region == "eu-west-1"


def test_a_failing_notebook_fails_its_task_and_is_kept(tmp_path, monkeypatch):
    from papermill.exceptions import PapermillExecutionError

    from orchestration.notebook_operator import LakeNotebookOperator

    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_CONN",
        json.dumps({"conn_type": "aws", "extra": {"endpoint_url": "http://127.0.0.1:1"}}),
    )
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "language": "python"}
    parameters = nbformat.v4.new_code_cell('site = ""\ndump_id = ""\nrun_id = ""')
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, nbformat.v4.new_code_cell("raise ValueError(f'boom {site}')")]
    nbformat.write(notebook, tmp_path / "broken.ipynb")

    operator = LakeNotebookOperator(
        task_id="broken",
        notebook="broken",
        writes=(),
        notebooks_dir=tmp_path,
        runs_dir=tmp_path / "runs",
        parameters={"site": "a.com", "dump_id": "", "run_id": "r1"},
    )
    with pytest.raises(PapermillExecutionError, match="boom a.com"):
        operator.execute(context={})
    kept = nbformat.read(tmp_path / "runs" / "r1" / "a.com" / "broken.ipynb", as_version=4)
    errors = [o for cell in kept.cells for o in cell.get("outputs", []) if o.output_type == "error"]
    assert errors and errors[0].ename == "ValueError"


def test_notebooks_on_one_spark_server_run_the_bronze_three_side_by_side(monkeypatch):
    monkeypatch.delenv("LAKE_AIRFLOW_PARALLEL_NOTEBOOKS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    monkeypatch.delenv("LAKE_SPARK_REMOTE", raising=False)
    assert OrchestrationSettings().parallel_notebooks == 1  # each notebook its own Spark
    monkeypatch.setenv("LAKE_SPARK_REMOTE", "sc://127.0.0.1:15002")
    assert OrchestrationSettings().parallel_notebooks == 3
    monkeypatch.setenv("LAKE_AIRFLOW_PARALLEL_NOTEBOOKS", "2")
    assert OrchestrationSettings().parallel_notebooks == 2


def test_the_databricks_workflow_uses_what_the_prod_deploy_sets():
    """Airflow's catalog and runtime are the bundle's prod target's, derived from
    databricks.yml, not a second copy; the notebook folder depends on the deploying
    identity (dev's catalog on the user), so a run must name them."""
    bundle = yaml.safe_load((REPO_ROOT / "databricks.yml").read_text())
    prod = bundle["targets"]["prod"]
    settings = OrchestrationSettings(databricks_raw_root="s3://l/raw")
    assert settings.databricks_catalog == prod["variables"]["catalog"]
    assert settings.databricks_spark_version == bundle["variables"]["spark_version"]["default"]
    assert settings.databricks_notebook_dir == ""
    with pytest.raises(ValueError, match="needs LAKE_AIRFLOW_DATABRICKS_NOTEBOOK_DIR "):
        settings.require_databricks_settings()
    dev = OrchestrationSettings(databricks_target="dev", databricks_raw_root="s3://l/raw")
    assert (dev.databricks_catalog, dev.databricks_notebook_dir) == ("", "")
    with pytest.raises(ValueError, match="LAKE_AIRFLOW_DATABRICKS_CATALOG and .*_NOTEBOOK_DIR"):
        dev.require_databricks_settings()
    with pytest.raises(ValueError, match="no target 'staging'"):
        OrchestrationSettings(databricks_target="staging")


def test_the_databricks_polling_is_the_providers_unless_set(monkeypatch):
    assert OrchestrationSettings().databricks_polling() == {}
    monkeypatch.setenv("LAKE_AIRFLOW_DATABRICKS_POLL_SECONDS", "2")
    assert OrchestrationSettings().databricks_polling() == {"polling_period_seconds": 2}
    monkeypatch.setenv("LAKE_AIRFLOW_DATABRICKS_POLL_SECONDS", "0")
    with pytest.raises(ValueError, match="databricks_poll_seconds"):
        OrchestrationSettings()


def test_only_tables_with_a_new_commit_count_as_changed():
    before = {"bronze.posts": 3, "bronze.rejected_rows": None, "bronze.dump_loads": 7}
    after = {"bronze.posts": 4, "bronze.rejected_rows": None, "bronze.dump_loads": 7}
    assert changed_tables(before, after) == ["bronze.posts"]
    assert changed_tables(before, {**after, "bronze.rejected_rows": 0}) == [
        "bronze.posts",
        "bronze.rejected_rows",
    ]


def test_a_quality_table_event_carries_the_steps_outcome():
    rows = {"bronze.posts_valid": 90, "bronze.posts_quarantine": None, "silver.posts": 88}
    counted = []

    def rows_of(names):
        counted.append(sorted(names))
        return {name: rows[name] for name in names}

    before, after = (
        {"bronze.posts_valid": 2, "silver.posts": 1},
        {"bronze.posts_valid": 3, "silver.posts": 2},
    )
    extras = table_extras("a.com", "d", before, after, rows_of)
    assert extras["bronze.posts_valid"] == {
        "site": "a.com",
        "dump_id": "d",
        "version": 3,
        "rows": 90,
        "posts_passed": 90,
        "posts_quarantined": 0,  # no quarantine table: nothing was quarantined
    }
    assert "posts_passed" not in extras["silver.posts"]
    assert counted == [["bronze.posts_quarantine", "bronze.posts_valid", "silver.posts"]]


class RunsApi:
    """The two calls of DatabricksHook that the operators make, over canned answers."""

    def __init__(self, outputs: dict[int, dict], tasks: list[dict] = ()):
        self.outputs, self.tasks = outputs, list(tasks)

    def get_run_output(self, run_id: int) -> dict:
        return self.outputs[run_id]

    def get_run_tasks(self, run_id: int) -> list[dict]:
        return self.tasks


class Log:
    def __init__(self):
        self.warnings = []

    def warning(self, message, *args):
        self.warnings.append(message % args)


@pytest.mark.parametrize(
    "notebook_output",
    [{}, {"result": "not json"}, {"result": "[1]"}, {"result": '{"tables": {}', "truncated": True}],
    ids=["no exit value", "not json", "not an object", "cut"],
)
def test_a_notebook_result_that_cannot_be_read_gives_no_events_and_a_warning(notebook_output):
    log = Log()
    api = RunsApi({7: {"notebook_output": notebook_output}})
    assert notebook_result(api, 7, log) == {}
    assert len(log.warnings) == 1 and "task run 7" in log.warnings[0]


def test_a_notebook_result_is_its_exit_value():
    value = {"site": "a.com", "tables": {"silver.posts": {"version": 2}}}
    api = RunsApi({7: {"notebook_output": {"result": json.dumps(value), "truncated": False}}})
    assert notebook_result(api, 7, Log()) == value


def test_a_retried_task_is_read_from_its_latest_attempt():
    tasks = [
        {"task_key": "silver_posts", "run_id": 12, "start_time": 2000},
        {"task_key": "silver_posts", "run_id": 11, "start_time": 1000},
        {"task_key": "gold_posts_users", "run_id": 13, "start_time": 3000},
    ]
    assert latest_task_runs(RunsApi({}, tasks), 1) == {"silver_posts": 12, "gold_posts_users": 13}


def test_a_task_says_what_it_changed_in_one_line():
    extras = {"gold.posts_users": {"dump_id": "2024-04-01-aa", "version": 5, "rows": 1703}}
    line = result_line("gold_posts_users", "a.com", extras, ["gold.other"])
    assert line == (
        "gold_posts_users of a.com, dump 2024-04-01-aa: gold.posts_users v5 (1,703 rows); "
        "unchanged: gold.other"
    )
    assert result_line("silver_users", "a.com", {}, ["silver.users"]) == (
        "silver_users of a.com: no table changed"
    )


def test_a_runs_target_is_its_param_else_the_variable_else_local():
    assert chosen_target(None, None) == "local"
    assert chosen_target(None, "databricks") == "databricks"
    assert chosen_target("local", "databricks") == "local"
    with pytest.raises(ValueError, match="Variable lakehouse_target='spark' is not a target"):
        chosen_target(None, "spark")


def test_the_old_second_target_setting_is_named_not_ignored(monkeypatch):
    monkeypatch.setenv("LAKE_AIRFLOW_TARGET", "databricks")
    with pytest.raises(ValueError, match="AIRFLOW_VAR_LAKEHOUSE_TARGET"):
        OrchestrationSettings()


class OutletEvents:
    """Airflow's `outlet_events` for the test: what each alias was resolved to."""

    def __init__(self):
        self.added: dict[str, list[tuple[str, dict]]] = {}

    def __getitem__(self, alias):
        events = self

        class Alias:
            def add(self, asset, extra):
                events.added.setdefault(alias.name, []).append((asset.uri, extra))

        return Alias()


def finished_run_event(run_id: int) -> dict:
    from airflow.providers.databricks.hooks.databricks import RunState

    state = RunState("TERMINATED", "SUCCESS", "")
    return {"run_id": run_id, "run_page_url": "u", "run_state": state.to_json(), "errors": []}


@pytest.mark.parametrize("deployed", [False, True], ids=["workflow task", "deployed job"])
def test_a_deferred_databricks_task_emits_its_events_when_it_resumes(monkeypatch, deployed):
    """With deferrable=True the task resumes in execute_complete, in a new process."""
    from orchestration import databricks_operators as operators
    from orchestration.assets import TABLE_ASSETS

    extra = {"site": "a.com", "dump_id": "d", "version": 3, "rows": 9}
    result = {
        "notebook_output": {
            "result": json.dumps({"site": "a.com", "tables": {"silver.posts": extra}})
        }
    }
    tasks = [{"task_key": "silver_posts", "run_id": 71, "start_time": 1}]
    if deployed:
        operator = operators.LakeDatabricksRunNowOperator(task_id="run_now", job_name="j")
        event, alias = finished_run_event(70), "databricks_job_tables"
    else:
        operator = operators.LakeDatabricksNotebookOperator(
            notebook="silver_posts", notebook_path="/x/silver_posts", source="WORKSPACE"
        )
        event, alias = finished_run_event(71), "silver_posts_tables"
    monkeypatch.setattr(operator, "_hook", RunsApi({71: result}, tasks))
    context = {"outlet_events": OutletEvents()}
    operator.execute_complete(context, event)
    assert context["outlet_events"].added == {alias: [(TABLE_ASSETS["silver.posts"].uri, extra)]}


def test_a_bad_produce_schedule_is_named_with_the_fix(monkeypatch):
    monkeypatch.setenv("LAKE_AIRFLOW_PRODUCE_SCHEDULE", "every day")
    with pytest.raises(
        ValueError, match="(?s)produce_schedule.*'every day' is not a cron .*@daily"
    ):
        OrchestrationSettings()


@pytest.mark.parametrize(
    ("target", "steps_left", "held", "emits"),
    [
        ("local", ["bronze_posts"], None, True),  # ingested, its medallion run never came
        ("local", ["silver_posts"], "2024-04-01-aa", True),  # that run failed part way
        ("local", ["bronze_posts"], "2024-01-01-old", True),  # the tables hold an earlier one
        ("local", [], "2024-04-01-aa", False),  # every step has run on it
        ("local", ["bronze_posts"], "2024-07-01-new", False),  # a newer one: never go back
        ("databricks", [], None, False),  # Airflow cannot read them: the reason says what to do
    ],
)
def test_a_dump_already_in_the_lake_starts_the_medallion_only_while_a_step_lacks_it(
    target, steps_left, held, emits
):
    reason = already_ingested_reason(
        "a.com", "2024-04-01-aa", "s3://l/raw/a.com", target, steps_left, held
    )
    assert (reason is None) is emits
    if not emits:
        assert reason.startswith("a.com dump 2024-04-01-aa is already in the lake at s3://l/")
    if target == "databricks":
        assert "trigger stackexchange_medallion with site=a.com" in reason
