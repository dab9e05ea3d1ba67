"""The fake Jobs API holds the project to Databricks' documented rules (cited in
tests/fakes/databricks_api.py): each test sends what the project sent before it met the
rule, and the fake refuses it or fails its run, as Databricks would."""

import time

import pytest

from fakes.databricks_api import BadRequest, FakeDatabricks, NotFound
from fakes.deployed_bundle import JOB_IMPORTS, NOTEBOOK_DIR, bundle_jobs, notebook_paths
from worker.bundle_job import COMPUTE_JOBS

NOTEBOOK = NOTEBOOK_DIR
BUNDLE_JOBS = bundle_jobs()


def workspace(**kwargs) -> FakeDatabricks:
    return FakeDatabricks(
        run_seconds=0.05, notebooks=notebook_paths(), imports=JOB_IMPORTS, **kwargs
    )


def call(fake: FakeDatabricks, route: str, body: dict | None = None, **query) -> dict:
    method, path = route.split(" ")
    return fake.handle(method, f"/api/{path}", {k: [str(v)] for k, v in query.items()}, body or {})


def wait(fake: FakeDatabricks, run_id: int) -> dict:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        run = call(fake, "GET 2.2/jobs/runs/get", run_id=run_id)
        if run["state"]["life_cycle_state"] in ("TERMINATED", "SKIPPED"):
            return run
        time.sleep(0.02)
    raise TimeoutError(run_id)


def old_workflow_task(**compute) -> dict:
    """A task as provider 7.23 built it from the workflow group before this project gave
    it compute: no cluster, `libraries: []`."""
    path = f"{NOTEBOOK}/bronze_posts"
    return {"task_key": "bronze_posts", "notebook_task": {"notebook_path": path}, **compute}


@pytest.mark.parametrize("compute", COMPUTE_JOBS)
def test_the_bundles_jobs_are_accepted_and_run(compute):
    fake = workspace(serverless=compute == "serverless")
    job_id = call(fake, "POST 2.2/jobs/create", BUNDLE_JOBS[compute])["job_id"]
    run_id = call(fake, "POST 2.2/jobs/run-now", {"job_id": job_id})["run_id"]
    assert wait(fake, run_id)["state"]["result_state"] == "SUCCESS"


def test_a_task_without_compute_is_refused_where_there_is_no_serverless():
    job = {"name": "old", "tasks": [old_workflow_task(libraries=[])]}
    with pytest.raises(BadRequest, match="One of job_cluster_key, new_cluster"):
        call(workspace(serverless=False), "POST 2.2/jobs/create", job)
    with pytest.raises(BadRequest, match="One of job_cluster_key, new_cluster"):
        workspace(serverless=False).deploy_job(BUNDLE_JOBS["serverless"])


def test_serverless_takes_no_task_libraries():
    libraries = [{"pypi": {"package": "lxml==6.1.3"}}]
    with pytest.raises(BadRequest, match="Libraries field is not supported for serverless"):
        call(
            workspace(),
            "POST 2.2/jobs/create",
            {"name": "x", "tasks": [old_workflow_task(libraries=libraries)]},
        )


def test_serverless_without_the_jobs_environment_fails_on_the_first_import():
    fake = workspace()
    job_id = call(fake, "POST 2.2/jobs/create", {"name": "old", "tasks": [old_workflow_task()]})[
        "job_id"
    ]
    run = wait(fake, call(fake, "POST 2.2/jobs/run-now", {"job_id": job_id})["run_id"])
    assert run["state"]["result_state"] == "FAILED"
    output = call(fake, "GET 2.2/jobs/runs/get-output", run_id=run["tasks"][0]["run_id"])
    assert output["error"].startswith("ModuleNotFoundError: No module named")


def test_a_job_with_parameters_refuses_legacy_notebook_params():
    fake = workspace()
    job_id = fake.deploy_job(BUNDLE_JOBS["serverless"])
    old = {"job_id": job_id, "notebook_params": {"site": "french.meta.stackexchange.com"}}
    with pytest.raises(BadRequest, match="notebook_params cannot be used with job parameters"):
        call(fake, "POST 2.2/jobs/run-now", old)
    new = {"job_id": job_id, "job_parameters": {"site": "french.meta.stackexchange.com"}}
    run_id = call(fake, "POST 2.2/jobs/run-now", new)["run_id"]
    widgets = fake.task_widgets(run_id)["silver_posts"]
    assert (widgets["site"], widgets["catalog"]) == (
        "french.meta.stackexchange.com",
        "stackexchange",
    )


@pytest.mark.parametrize(("queue", "second"), [(True, "QUEUED"), (False, "SKIPPED")])
def test_a_run_beyond_max_concurrent_runs_queues_or_is_skipped(queue, second):
    fake = workspace()
    fake.run_seconds = 0.5
    job_id = fake.deploy_job({**BUNDLE_JOBS["serverless"], "queue": {"enabled": queue}})
    first, later = (call(fake, "POST 2.2/jobs/run-now", {"job_id": job_id}) for _ in range(2))
    state = call(fake, "GET 2.2/jobs/runs/get", run_id=later["run_id"])["state"]
    assert state["life_cycle_state"] == second
    assert wait(fake, first["run_id"])["state"]["result_state"] == "SUCCESS"
    final = wait(fake, later["run_id"])["state"]
    assert final.get("result_state") == ("SUCCESS" if queue else "MAXIMUM_CONCURRENT_RUNS_REACHED")


def test_a_failed_notebook_fails_its_run_and_stops_what_follows():
    fake = workspace(failures={"silver_posts": "ValueError: Posts.xml row 12: no Id"})
    job_id = fake.deploy_job(BUNDLE_JOBS["serverless"])
    run = wait(fake, call(fake, "POST 2.2/jobs/run-now", {"job_id": job_id})["run_id"])
    results = {t["task_key"]: t["state"]["result_state"] for t in run["tasks"]}
    assert run["state"]["result_state"] == "FAILED"
    assert results["silver_posts"] == "FAILED"
    assert results["gold_most_popular_tags"] == results["gold_posts_users"] == "UPSTREAM_FAILED"
    assert results["silver_users"] == "SUCCESS"
    task_run = next(t["run_id"] for t in run["tasks"] if t["task_key"] == "silver_posts")
    output = call(fake, "GET 2.2/jobs/runs/get-output", run_id=task_run)
    assert output["error"] == "ValueError: Posts.xml row 12: no Id"


def test_a_cancelled_run_ends_canceled_and_a_cancelled_task_alone():
    fake = workspace()
    fake.run_seconds = 0.5
    job_id = fake.deploy_job(BUNDLE_JOBS["serverless"])
    run_id = call(fake, "POST 2.2/jobs/run-now", {"job_id": job_id})["run_id"]
    call(fake, "POST 2.2/jobs/runs/cancel", {"run_id": run_id})
    assert wait(fake, run_id)["state"]["result_state"] == "CANCELED"
    run = call(
        fake,
        "GET 2.2/jobs/runs/get",
        run_id=call(fake, "POST 2.2/jobs/run-now", {"job_id": job_id})["run_id"],
    )
    bronze_users = next(t["run_id"] for t in run["tasks"] if t["task_key"] == "bronze_users")
    call(fake, "POST 2.2/jobs/runs/cancel", {"run_id": bronze_users})
    results = {
        t["task_key"]: t["state"]["result_state"] for t in wait(fake, run["run_id"])["tasks"]
    }
    assert results["bronze_users"] == "CANCELED"
    assert results["bronze_posts"] == results["bronze_tables"] == "SUCCESS"


def test_a_task_that_depends_on_no_task_of_the_job_is_refused():
    job = {
        **BUNDLE_JOBS["serverless"],
        "tasks": [
            {**BUNDLE_JOBS["serverless"]["tasks"][0], "depends_on": [{"task_key": "nowhere"}]}
        ],
    }
    with pytest.raises(BadRequest, match=r"depends on tasks the job lacks: \['nowhere'\]"):
        call(workspace(), "POST 2.2/jobs/create", job)


def test_a_missing_notebook_is_a_404_and_fails_its_task():
    fake = workspace()
    with pytest.raises(NotFound) as missing:
        call(fake, "GET 2.0/workspace/get-status", path=f"{NOTEBOOK}/nowhere")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    fake.notebooks.discard(f"{NOTEBOOK}/bronze_users")
    job_id = fake.deploy_job(BUNDLE_JOBS["serverless"])
    run = wait(fake, call(fake, "POST 2.2/jobs/run-now", {"job_id": job_id})["run_id"])
    failed = [t["task_key"] for t in run["tasks"] if t["state"]["result_state"] == "FAILED"]
    assert failed == ["bronze_users"]


def test_the_output_of_a_multi_task_run_is_refused():
    fake = workspace()
    run_id = call(
        fake, "POST 2.2/jobs/run-now", {"job_id": fake.deploy_job(BUNDLE_JOBS["serverless"])}
    )["run_id"]
    with pytest.raises(BadRequest, match="runs with multiple tasks is not supported"):
        call(fake, "GET 2.2/jobs/runs/get-output", run_id=run_id)
