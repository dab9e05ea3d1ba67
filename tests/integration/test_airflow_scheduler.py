"""End to end with a real Airflow scheduler: the producer's Asset events start the
medallion run on their own and a real dump reaches gold, where Stack Exchange's own
numbers hold (its only load alone in the suite); the same dump again starts
nothing; target `databricks` drives a local fake of the Databricks Jobs API with the
same graph.

Airflow runs in a temporary AIRFLOW_HOME against the session's private S3 server, and
every component is stopped by process id at the end, whatever the outcome.
"""

import json
import warnings
from collections import Counter
from datetime import UTC, datetime

import pytest
from pyspark.sql import functions as F
from real_dump_helpers import (
    FILE_ORDER,
    PUBLISHED_ROWS,
    check_oracles,
    extracted_rows,
)

from airflow_api import AirflowApi, ApiError
from airflow_ui import AirflowUi
from archive_mirror import serve_archive_mirror
from browser import Browser, chromium_binary
from conftest import ARTIFACTS, IN_CI, NO_SHARED_DUMPS, absent
from dump_generator import SAMPLE_SITE
from fakes.databricks_api import FakeDatabricks, serve
from fakes.deployed_bundle import JOB_IMPORTS, NOTEBOOK_DIR, bundle_jobs, notebook_paths
from lakehouse.lake import Lake
from lakehouse.steps import PIPELINE, TABLES
from lakehouse.table_locations import table_path
from laptop.airflow_local import USERNAME, LocalAirflow, aws_connection_json
from laptop.ports import free_port
from report_page import check_charts_read_at_a_glance

PRODUCER = "produce_data_assets"
MEDALLION = "stackexchange_medallion"
REAL_SITE = "french.meta.stackexchange.com"
FAKE_TOKEN = "fake-databricks-token"
DEPLOYED_JOB = "[prod] stackexchange_medallion"


@pytest.fixture(scope="module")
def databricks():
    """A workspace with serverless compute, where `databricks bundle deploy -t prod` put
    the notebooks, and where they fail to import what their compute does not install."""
    fake = FakeDatabricks(run_seconds=1, notebooks=notebook_paths(), imports=JOB_IMPORTS)
    server = serve(fake, FAKE_TOKEN)
    yield fake, server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="module")
def archive_mirror(tmp_path_factory):
    """archive.org imitated over the shared dumps; where they are absent the flow uses
    the generated sample, which needs no mirror, and the URL leads nowhere."""
    from conftest import SHARED_DUMPS, shared_dumps_present

    if not shared_dumps_present():
        yield f"http://127.0.0.1:{free_port()}/download"
        return
    server, base_url = serve_archive_mirror(SHARED_DUMPS, tmp_path_factory.mktemp("mirror"))
    yield base_url
    server.shutdown()


@pytest.fixture(scope="module")
def flow_dump():
    """What the flow tests send through Airflow: (dumps entry, site, its archive). A real
    dump, served by the archive.org mirror, where the shared dumps are here; the
    generated sample elsewhere (no archive), said in the test report, and never under
    CI=true, which fails at start without them (conftest). One local medallion run
    only: each of its notebooks starts a kernel, and the suite's time goes there."""
    from conftest import SHARED_DUMPS, shared_dumps_present

    if shared_dumps_present():
        dump = (REAL_SITE, REAL_SITE, SHARED_DUMPS / f"{REAL_SITE}.7z")
    else:
        warnings.warn(
            f"the Airflow flow loads the generated sample, not {REAL_SITE}: "
            f"{NO_SHARED_DUMPS}; its real-dump checks do not run",
            stacklevel=1,
        )
        dump = ("sample", SAMPLE_SITE, None)
    print(f"the Airflow flow loads {dump[1]}")
    return dump


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("airflow-runs")


@pytest.fixture(scope="module")
def airflow_settings(settings):
    """The session's S3 server, but a bucket of this module's own: the dumps it sends
    through Airflow may already be in the shared bucket, put there by other modules."""
    return settings.model_copy(update={"bucket": "airflow-lake"})


@pytest.fixture(scope="module")
def airflow_lake(spark, airflow_settings, s3):
    return Lake(spark, airflow_settings)


@pytest.fixture(scope="module")
def airflow(tmp_path_factory, airflow_settings, s3, databricks, archive_mirror, runs_dir):
    settings = airflow_settings
    _, databricks_port = databricks
    work = tmp_path_factory.mktemp("airflow-work")
    local = LocalAirflow(
        tmp_path_factory.mktemp("airflow-home"),
        port=free_port(),
        extra_env={
            "AIRFLOW_CONN_AWS_CONN": aws_connection_json(settings),
            "AIRFLOW_CONN_DATABRICKS_CONN": json.dumps(
                {
                    "conn_type": "databricks",
                    "host": "localhost",
                    "port": databricks_port,
                    "schema": "http",
                    "password": FAKE_TOKEN,
                }
            ),
            "LAKE_ARCHIVE_BASE_URL": archive_mirror,
            "LAKE_ARCHIVE_ITEM": "stackexchange",
            # A schedule whose tick just past, which unpausing must not run, is never
            # followed by another during the module (as @daily's would at midnight).
            "LAKE_AIRFLOW_PRODUCE_SCHEDULE": "@yearly",
            "LAKE_AIRFLOW_RETRIES": "0",
            "LAKE_AIRFLOW_DATABRICKS_CATALOG": "stackexchange",
            "LAKE_AIRFLOW_DATABRICKS_RAW_ROOT": "s3://landing/raw",
            "LAKE_AIRFLOW_DATABRICKS_NOTEBOOK_DIR": NOTEBOOK_DIR,
            # The fake's runs last 2 s: waiting the providers' 5 or 30 s between polls
            # would be most of these tests' time.
            "LAKE_AIRFLOW_DATABRICKS_POLL_SECONDS": "1",
            "LAKE_AIRFLOW_RUNS_DIR": str(runs_dir),
            "LAKE_AIRFLOW_WORK_DIR": str(work / "work"),
            "LAKE_AIRFLOW_SAMPLE_DIR": str(work / "sample"),
        },
    )
    try:
        local.start(settings)
        api = AirflowApi(local.url, USERNAME, local.password())
        api.wait_for_dags([PRODUCER, MEDALLION])
        # As docs/airflow.md says: the medallion waits unpaused; the producer's trigger form
        # unpauses it (test_a_dump_flows_from_the_producer_to_gold).
        assert api.get(f"/dags/{MEDALLION}")["is_paused"] is False
        assert api.get(f"/dags/{PRODUCER}")["is_paused"] is True
        yield api
    finally:
        local.stop()


@pytest.fixture(scope="module")
def airflow_ui(airflow):
    """Airflow's UI in headless Chromium, signed in; None where Chromium is missing (the
    flow then triggers through the API, said in the report; never under CI=true)."""
    if chromium_binary() is None:
        if IN_CI:
            absent("Chromium is not installed here; `make test-tools` installs Debian's")
        warnings.warn("no Chromium: the flow triggers through the API", stacklevel=1)
        yield None
        return
    browser = Browser()
    try:
        ui = AirflowUi(browser, airflow.url)
        ui.sign_in(airflow.username, airflow.password)
        yield ui
    finally:
        browser.close()


def _produce_from_the_form(api: AirflowApi, ui: AirflowUi | None, entry: str) -> str:
    """What docs/airflow.md says to do: trigger the producer from its form, which unpauses
    it. Returns the run's id."""
    known = {run["dag_run_id"] for run in api.runs(PRODUCER)}
    if ui is None:
        api.unpause(PRODUCER)
        return api.trigger(PRODUCER, {"dumps": [entry]})
    ui.open_trigger_form(PRODUCER)
    assert f"Unpause {PRODUCER} on trigger" in ui.form_text()
    assert ui.unpause_on_trigger_is_checked()
    ui.fill_param("dumps", entry)
    ui.trigger(ARTIFACTS / "airflow-trigger-produce.png")
    return api.wait_for_new_run(PRODUCER, known)


def test_the_medallion_form_names_its_empty_target(airflow_ui):
    if airflow_ui is None:
        absent("Chromium is not installed here; `make test-tools` installs Debian's")
    airflow_ui.open_trigger_form(MEDALLION)
    airflow_ui.browser.screenshot(ARTIFACTS / "airflow-trigger-medallion.png")
    shown = airflow_ui.form_text().splitlines()
    target = shown[shown.index("target") + 1]
    assert target == "Variable lakehouse_target, else local"
    assert "null" not in shown


def _produce(api: AirflowApi, dumps: list[str], run_id: str = "") -> tuple[dict, list[dict]]:
    run_id = run_id or api.trigger(PRODUCER, {"dumps": dumps})
    run = api.wait_for_run(PRODUCER, run_id)
    assert run["state"] == "success", api.failure_report(PRODUCER, run_id)
    ingests = [ti for ti in api.task_instances(PRODUCER, run_id) if ti["task_id"] == "ingest"]
    return run, ingests


def _medallion_started_by_assets(api: AirflowApi, known: set[str]) -> dict:
    run_id = api.wait_for_new_run(MEDALLION, known)
    run = api.wait_for_run(MEDALLION, run_id)
    assert run["run_type"] == "asset_triggered"
    assert run["state"] == "success", api.failure_report(MEDALLION, run_id)
    return run


def _site_count(lake, name: str, site: str) -> int:
    return lake.read(name).where(F.col("site") == site).count()


def test_a_dump_flows_from_the_producer_to_gold(
    airflow, airflow_ui, airflow_lake, runs_dir, flow_dump, tmp_path
):
    lake = airflow_lake
    entry, site, archive = flow_dump
    known = {run["dag_run_id"] for run in airflow.runs(MEDALLION)}
    airflow.producer_unpaused_at = datetime.now(UTC)
    _, ingests = _produce(airflow, [entry], _produce_from_the_form(airflow, airflow_ui, entry))
    assert airflow.get(f"/dags/{PRODUCER}")["is_paused"] is False
    assert [ti["state"] for ti in ingests] == ["success"]

    assert [ti["rendered_map_index"] for ti in ingests] == [entry]

    run = _medallion_started_by_assets(airflow, known)
    assert _site_count(lake, "gold.most_popular_tags", site) > 0
    assert _site_count(lake, "gold.posts_users", site) > 0
    if archive is not None:  # The real dump's only load alone (test_real_dumps.py says why).
        rows = extracted_rows(archive, tmp_path / "xml")
        assert tuple(len(rows[name]) for name in FILE_ORDER) == PUBLISHED_ROWS[site]
        rows_in = {name: len(file_rows) for name, file_rows in rows.items()}
        check_oracles(lake, site, tmp_path / "xml", rows_in)
        assert _site_count(lake, "bronze.posts_quarantine", site) == 0
        assert _site_count(lake, "bronze.rejected_rows", site) == 0
    executed = sorted(p.stem for p in runs_dir.glob(f"*/{site}/*.ipynb"))
    assert executed == sorted(node.name for node in PIPELINE), run["dag_run_id"]
    (report,) = runs_dir.glob(f"*/{site}/report.html")  # beside them, as local-run's
    if airflow_ui is not None:
        shot = ARTIFACTS / f"report-{site}.png"
        check_charts_read_at_a_glance(airflow_ui.browser, report, shot)
    # A notebook task that succeeded logs no error line: no kernel or JVM start-up noise.
    for task in airflow.task_instances(MEDALLION, run["dag_run_id"]):
        if task["task_id"].startswith("local."):
            assert task["rendered_map_index"] == site, task["task_id"]
            log = airflow.task_log(MEDALLION, run["dag_run_id"], task)
            errors = [entry["event"] for entry in log if entry.get("level") == "error"]
            assert errors == [], (task["task_id"], errors)

    # An event per table a task changed, saying what the table now holds. The history
    # tables every bronze step writes get one from each; a table of one step, one.
    events = airflow.asset_events(MEDALLION, run["dag_run_id"])
    extras = {event["uri"]: event["extra"] for event in events}
    uri = {name: table_path(lake.settings.bucket, name, scheme="s3") for name in TABLES}
    per_table = Counter(event["uri"] for event in events)
    assert per_table[uri["bronze.step_runs"]] == len(PIPELINE)
    assert per_table[uri["gold.posts_users"]] == per_table[uri["bronze.posts"]] == 1
    loads = lake.read("bronze.dump_loads").where(F.col("site") == site)
    held = loads.select("dump_id").distinct().first()["dump_id"]
    for name in ("bronze.posts", "bronze.posts_valid", "silver.posts", "gold.posts_users"):
        assert extras[uri[name]]["site"] == site
        assert extras[uri[name]]["dump_id"] == held
        assert extras[uri[name]]["rows"] == _site_count(lake, name, site), name
    quality = extras[uri["bronze.posts_valid"]]
    assert quality["posts_passed"] == _site_count(lake, "bronze.posts_valid", site) > 0
    assert quality["posts_quarantined"] == extras[uri["bronze.posts_quarantine"]]["rows"]
    assert set(extras) <= set(uri.values())


def test_the_same_dump_again_starts_no_medallion_run(airflow, flow_dump):
    known = {run["dag_run_id"] for run in airflow.runs(MEDALLION)}
    producer_run, ingests = _produce(airflow, [flow_dump[0]])
    assert [ti["state"] for ti in ingests] == ["skipped"]
    # Why, on the log's first line that no collapsed group hides.
    first = airflow.unfolded_log(PRODUCER, producer_run["dag_run_id"], ingests[0])[0]
    assert first.startswith(f"{flow_dump[1]} dump "), first
    assert "is already in the lake at s3://" in first and "no Asset event" in first
    # No Asset event, so the scheduler has nothing to start the medallion DAG on.
    assert airflow.asset_events(PRODUCER, producer_run["dag_run_id"]) == []
    with pytest.raises(TimeoutError):
        airflow.wait_for_new_run(MEDALLION, known, timeout=5)
    # Unpaused with its daily schedule, it ran what was triggered, not the tick just past.
    scheduled = [run for run in airflow.runs(PRODUCER) if run["run_type"] != "manual"]
    unpaused = airflow.producer_unpaused_at
    assert all(datetime.fromisoformat(run["run_after"]) > unpaused for run in scheduled), scheduled


def notebook_exit_values(site: str) -> tuple[dict[str, str], dict[str, dict]]:
    """What each notebook of a Databricks run says it changed (lakehouse.runtime.finish_run):
    its own table, with made-up versions and rows, and silver_users nothing. Then the
    events that Airflow must send, by table: those, with the same extras."""
    exit_values, events = {}, {}
    for number, task in enumerate(PIPELINE):
        own = task.writes[0]
        extra = {"site": site, "dump_id": "2026-06-30-fake", "version": number, "rows": 7 * number}
        tables = {} if task.name == "silver_users" else {own: extra}
        exit_values[task.name] = json.dumps({"site": site, "tables": tables})
        events.update(tables)
    return exit_values, events


def table_event_extras(airflow, dag_run_id: str, bucket: str) -> dict[str, dict]:
    """The run's table Asset events, by table name: their extras."""
    by_uri = {table_path(bucket, name, scheme="s3"): name for name in TABLES}
    events = airflow.asset_events(MEDALLION, dag_run_id)
    assert len({event["uri"] for event in events}) == len(events)  # one per table
    return {by_uri[event["uri"]]: event["extra"] for event in events}


def test_target_databricks_submits_the_graph_with_the_run_values(
    airflow, databricks, airflow_settings
):
    fake, _ = databricks
    fake.exit_values, expected_events = notebook_exit_values(SAMPLE_SITE)
    run_id = airflow.trigger(MEDALLION, {"target": "databricks", "site": SAMPLE_SITE})
    run = airflow.wait_for_run(MEDALLION, run_id, timeout=300)
    assert run["state"] == "success", airflow.failure_report(MEDALLION, run_id)
    assert table_event_extras(airflow, run_id, airflow_settings.bucket) == expected_events

    job = fake.bodies("POST jobs/create")[-1]
    tasks = {task["task_key"]: task for task in job["tasks"]}
    assert set(tasks) == {node.name for node in PIPELINE}
    # Serverless, with the bundle's serverless job's environment.
    assert job["environments"] == bundle_jobs()["serverless"]["environments"]
    for node in PIPELINE:
        assert {d["task_key"] for d in tasks[node.name]["depends_on"]} == set(node.depends_on)
        assert tasks[node.name]["environment_key"] == job["environments"][0]["environment_key"]
        parameters = tasks[node.name]["notebook_task"]["base_parameters"]
        assert (parameters["catalog"], parameters["raw_root"]) == (
            "stackexchange",
            "s3://landing/raw",
        )
    run_now = fake.bodies("POST jobs/run-now")[-1]
    assert run_now["notebook_params"]["site"] == SAMPLE_SITE
    assert run_now["notebook_params"]["dump_id"] == ""
    assert run_now["notebook_params"]["run_id"].startswith("manual__")


def test_target_databricks_can_run_a_deployed_job_by_name(airflow, databricks, airflow_settings):
    """The bundle's job as deployed, with its job parameters: the site asked for reaches
    every notebook, not the job's default."""
    fake, _ = databricks
    fake.exit_values, expected_events = notebook_exit_values(SAMPLE_SITE)
    job_id = fake.deploy_job({**bundle_jobs()["serverless"], "name": DEPLOYED_JOB})
    run_id = airflow.trigger(
        MEDALLION,
        {"target": "databricks", "site": SAMPLE_SITE, "databricks_job_name": DEPLOYED_JOB},
    )
    run = airflow.wait_for_run(MEDALLION, run_id, timeout=300)
    assert run["state"] == "success", airflow.failure_report(MEDALLION, run_id)
    assert table_event_extras(airflow, run_id, airflow_settings.bucket) == expected_events
    run_now = fake.bodies("POST jobs/run-now")[-1]
    assert run_now["job_id"] == job_id
    job_run = max(r for r, body in fake.runs.items() if body["job_id"] == job_id and body["tasks"])
    assert {w["site"] for w in fake.task_widgets(job_run).values()} == {SAMPLE_SITE}


def test_two_sites_run_side_by_side_and_one_failing_notebook_fails_alone(airflow, databricks):
    """Each site of one run is a run of the workflow's one job, both running at once
    (neither queued, which fails the provider's launch, nor skipped). A notebook that
    fails for one site fails that site's task with the notebook's error, in one line;
    the other site's go on."""
    fake, _ = databricks
    fake.exit_values, _ = notebook_exit_values(SAMPLE_SITE)
    fake.failures = {"silver_posts": "ValueError: Posts.xml row 12: Id is missing"}
    fake.failing_site = REAL_SITE
    fake.run_seconds = 3  # Each run outlasts the gap between the sites' launches.
    try:
        sites = [REAL_SITE, SAMPLE_SITE]  # in the order the run maps them
        run_id = airflow.trigger(MEDALLION, {"target": "databricks", "site": ",".join(sites)})
        run = airflow.wait_for_run(MEDALLION, run_id, timeout=300)
    finally:
        fake.failures, fake.failing_site, fake.run_seconds = {}, None, 1
    assert run["state"] == "failed"
    runs_now = fake.bodies("POST jobs/run-now")[-2:]
    assert sorted(body["notebook_params"]["site"] for body in runs_now) == sites
    (first_start, first_end), (second_start, second_end) = (
        fake.span(job_run) for job_run in [r for r, body in fake.runs.items() if body["tasks"]][-2:]
    )
    assert second_start < first_end and first_start < second_end
    assert len([job for job in fake.jobs.values() if job["name"].endswith(".workflow")]) == 1

    states = {
        (ti["task_id"], sites[ti["map_index"]]): ti
        for ti in airflow.task_instances(MEDALLION, run_id)
        if ti["task_id"].startswith("databricks.workflow.")
    }
    failed = states["databricks.workflow.silver_posts", REAL_SITE]
    assert failed["state"] == "failed"
    assert states["databricks.workflow.silver_users", REAL_SITE]["state"] == "success"
    assert {ti["state"] for (_, site), ti in states.items() if site == SAMPLE_SITE} == {"success"}
    log = airflow.task_log(MEDALLION, run_id, failed)
    raised = [d["exc_value"] for entry in log for d in entry.get("error_detail", [])]
    assert raised == [
        "silver_posts failed on Databricks: ValueError: Posts.xml row 12: Id is missing"
    ]


def test_two_quick_triggers_never_overlap(airflow):
    conf = {"target": "databricks", "site": SAMPLE_SITE}
    first, second = airflow.trigger(MEDALLION, conf), airflow.trigger(MEDALLION, conf)
    runs = [airflow.wait_for_run(MEDALLION, run_id, timeout=300) for run_id in (first, second)]
    assert [run["state"] for run in runs] == ["success", "success"]
    assert runs[1]["start_date"] >= runs[0]["end_date"]


def test_an_unknown_target_is_rejected_when_the_run_is_triggered(airflow):
    before = len(airflow.runs(MEDALLION))
    with pytest.raises(ApiError) as rejected:
        airflow.trigger(MEDALLION, {"target": "spark"})
    assert rejected.value.status == 400
    assert "target" in str(rejected.value)
    assert len(airflow.runs(MEDALLION)) == before
