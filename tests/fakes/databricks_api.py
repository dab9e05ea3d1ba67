"""A local fake of the Databricks Jobs REST API (2.2), enough for the Airflow provider:
jobs list/create/reset/run-now, runs submit/get/get-output/cancel, workspace get-status.

Every request body is checked against databricks-sdk's own types: the keys must be the
parameters of the SDK's method, and nested settings must survive the SDK's
`from_dict`/`as_dict` round trip without losing a field. A bad body gets HTTP 400, so
the Airflow task that sent it fails.

Beyond the types, the rules below are Databricks' documented behaviour, each with the
page it comes from; none is here because the project's code happens to need it.
"""

import inspect
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from databricks.sdk.service import jobs
from packaging.requirements import Requirement

from worker.databricks_compute import normalized_name

JOBS_CREATE_DOC = "https://docs.databricks.com/api/workspace/jobs/create"
# The legacy run-now slots that job parameters supersede.
LEGACY_PARAMETERS = (
    "notebook_params",
    "python_params",
    "python_named_params",
    "jar_params",
    "spark_submit_params",
    "sql_params",
    "dbt_commands",
)
CLUSTER_KEYS = ("existing_cluster_id", "new_cluster", "job_cluster_key")


class BadRequest(ValueError):
    pass


class NotFound(LookupError):
    def __init__(self, error_code: str, message: str):
        super().__init__(message)
        self.error_code = error_code


def _method_parameters(method) -> set[str]:
    return set(inspect.signature(method).parameters) - {"self"}


def lost_fields(sent, parsed, path: str = "") -> list[str]:
    """Keys of `sent` that the SDK's round trip dropped (an empty value may be dropped)."""
    if isinstance(sent, dict) and isinstance(parsed, dict):
        lost = []
        for key, value in sent.items():
            if key not in parsed:
                if value not in (None, [], {}):
                    lost.append(f"{path}{key}")
            else:
                lost += lost_fields(value, parsed[key], f"{path}{key}.")
        return lost
    if isinstance(sent, list) and isinstance(parsed, list) and len(sent) == len(parsed):
        lost = []
        for index, (sent_item, parsed_item) in enumerate(zip(sent, parsed, strict=True)):
            lost += lost_fields(sent_item, parsed_item, f"{path}{index}.")
        return lost
    return []


def check_body(body: dict, method, settings_type=None, settings_key: str | None = None) -> None:
    unknown = set(body) - _method_parameters(method)
    if unknown:
        raise BadRequest(f"{method.__name__}: unknown fields {sorted(unknown)}")
    if settings_type is not None:
        settings = body[settings_key] if settings_key else body
        lost = lost_fields(settings, settings_type.from_dict(settings).as_dict())
        if lost:
            raise BadRequest(f"{method.__name__}: fields not in {settings_type.__name__}: {lost}")


def check_string_map(body: dict, key: str) -> None:
    values = body.get(key) or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in values.items()):
        raise BadRequest(f"{key} must map strings to strings, got {values!r}")


def check_tasks(settings: dict, serverless: bool) -> None:
    """Each task depends on tasks of the job, and runs somewhere the workspace has, with
    its libraries installable there.

    - `job_cluster_key` and `environment_key` name an entry of the job's `job_clusters`
      and `environments` ("Create a new job", JOBS_CREATE_DOC: "The key that references an
      environment spec in a job"; "reusing the cluster specified in
      job.settings.job_clusters").
    - A task with no cluster runs on serverless, where the workspace has it; elsewhere it
      is refused (the Terraform provider's job resource docs: "If no job_cluster_key,
      existing_cluster_id, or new_cluster were specified in task definition, then task
      will executed using serverless compute"; the API's refusal, quoted in
      databricks/terraform-provider-databricks#3414: "One of job_cluster_key, new_cluster,
      or existing_cluster_id must be specified.").
    - A serverless notebook task takes no `libraries`: "Task libraries are not supported
      for notebook tasks. Use notebook-scoped libraries instead" (Serverless compute
      limitations, https://learn.microsoft.com/azure/databricks/compute/serverless/limitations),
      and a job's libraries go in its `environments` (JOBS_CREATE_DOC). The refusal's
      wording is ours.
    - A task that runs other tasks or jobs (`for_each_task`, `run_job_task`) needs no
      compute of its own.
    """
    clusters = {c["job_cluster_key"] for c in settings.get("job_clusters") or []}
    environments = {e["environment_key"] for e in settings.get("environments") or []}
    keys = {task.get("task_key") for task in settings.get("tasks", [])}
    for task in settings.get("tasks", []):
        key = task.get("task_key")
        unknown = {d["task_key"] for d in task.get("depends_on") or []} - keys
        if unknown:
            raise BadRequest(f"task {key} depends on tasks the job lacks: {sorted(unknown)}")
        if task.get("for_each_task") or task.get("run_job_task"):
            continue
        if task.get("job_cluster_key") and task["job_cluster_key"] not in clusters:
            raise BadRequest(f"task {key}: no job cluster {task['job_cluster_key']!r}")
        if task.get("environment_key") and task["environment_key"] not in environments:
            raise BadRequest(f"task {key}: no environment {task['environment_key']!r}")
        if any(task.get(k) for k in CLUSTER_KEYS):
            continue
        if not serverless:
            raise BadRequest(
                "One of job_cluster_key, new_cluster, or existing_cluster_id must be specified."
            )
        if task.get("libraries") and task.get("notebook_task"):
            raise BadRequest(
                f"task {key}: Libraries field is not supported for serverless task, "
                "please specify libraries in environment."
            )


def installed_packages(settings: dict, task: dict) -> set[str]:
    """The distributions a task's run installs beyond the runtime: its libraries on a
    cluster, its environment's dependencies on serverless (a notebook here has no
    environment of its own)."""
    if any(task.get(k) for k in CLUSTER_KEYS):
        specs = [lib["pypi"]["package"] for lib in task.get("libraries") or [] if "pypi" in lib]
    else:
        by_key = {e["environment_key"]: e for e in settings.get("environments") or []}
        environment = by_key.get(task.get("environment_key"), {})
        specs = (environment.get("spec") or {}).get("dependencies") or []
    return {normalized_name(Requirement(spec).name) for spec in specs}


@dataclass
class FakeDatabricks:
    """A workspace whose notebooks (`notebooks`, by workspace path) run in `run_seconds`,
    each once the tasks it depends on have succeeded.

    A task run fails when its notebook is missing, when its compute lacks one of
    `imports` (the distributions the notebooks import beyond the runtime, by the module
    the notebook would name), or when `failures` holds an error for its task key (in the
    runs of `failing_site` only, when one is named: by the task's `site` widget); the
    tasks after it are then UPSTREAM_FAILED and the job run FAILED. A successful task
    run's output holds `exit_values`, by task key, as `dbutils.notebook.exit` gave it."""

    run_seconds: float = 2.0
    serverless: bool = True
    notebooks: set[str] = field(default_factory=set)
    imports: dict[str, str] = field(default_factory=dict)
    exit_values: dict[str, str] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    failing_site: str | None = None
    jobs: dict[int, dict] = field(default_factory=dict)
    runs: dict[int, dict] = field(default_factory=dict)
    requests: list[tuple[str, str, dict]] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1000))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, method: str, path: str, query: dict, body: dict) -> dict:
        with self._lock:
            self.requests.append((method, path, body))
            route = f"{method} {path.removeprefix('/api/')}"
            handler = _ROUTES.get(route)
            if handler is None:
                raise NotFound("ENDPOINT_NOT_FOUND", route)
            return handler(self, query, body)

    def deploy_job(self, settings: dict) -> int:
        """A job as `databricks bundle deploy` leaves it (settings as the API takes them)."""
        check_tasks(settings, self.serverless)
        job_id = next(self._ids)
        self.jobs[job_id] = settings
        return job_id

    # --- jobs ---------------------------------------------------------------
    def list_jobs(self, query, body):
        name = query.get("name", [None])[0]
        found = [
            {"job_id": job_id, "settings": settings}
            for job_id, settings in self.jobs.items()
            if name is None or settings["name"] == name
        ]
        return {"jobs": found, "has_more": False}

    def create_job(self, query, body):
        check_body(body, jobs.JobsAPI.create, jobs.JobSettings)
        return {"job_id": self.deploy_job(body)}

    def reset_job(self, query, body):
        check_body(body, jobs.JobsAPI.reset, jobs.JobSettings, "new_settings")
        if body["job_id"] not in self.jobs:
            raise BadRequest(f"Job {body['job_id']} does not exist.")
        check_tasks(body["new_settings"], self.serverless)
        self.jobs[body["job_id"]] = body["new_settings"]
        return {}

    def run_now(self, query, body):
        """Job parameters "supersede notebook_params, python_params, … and they cannot be
        used in combination" (the provider's DatabricksRunNowOperator, after
        https://docs.databricks.com/en/workflows/jobs/settings.html#add-parameters-for-all-job-tasks);
        a job that defines them is refused the legacy slots. A run beyond
        `max_concurrent_runs` is QUEUED where the job's `queue` is enabled, else SKIPPED
        (JOBS_CREATE_DOC, `max_concurrent_runs` and `queue`); "for jobs created with the
        Jobs API 2.2, queueing is enabled by default"
        (https://docs.databricks.com/jobs/jobs-api-updates.html)."""
        check_body(body, jobs.JobsAPI.run_now)
        for key in ("notebook_params", "job_parameters"):
            check_string_map(body, key)
        job = self.jobs.get(body["job_id"])
        if job is None:
            raise BadRequest(f"Job {body['job_id']} does not exist.")
        legacy = [key for key in LEGACY_PARAMETERS if body.get(key)]
        if job.get("parameters") and legacy:
            raise BadRequest(
                f"{', '.join(legacy)} cannot be used with job parameters: the job defines "
                "parameters, pass job_parameters"
            )
        defaults = {p["name"]: p["default"] for p in job.get("parameters") or []}
        parameters = {**defaults, **(body.get("job_parameters") or {})}
        widgets = parameters if job.get("parameters") else body.get("notebook_params") or {}
        return {"run_id": self._start_run(job, widgets, job_id=body["job_id"])}

    def submit_run(self, query, body):
        check_body(body, jobs.JobsAPI.submit)
        for task in body.get("tasks", []):
            lost = lost_fields(task, jobs.SubmitTask.from_dict(task).as_dict())
            if lost:
                raise BadRequest(f"submit: fields not in SubmitTask: {lost}")
        check_tasks(body, self.serverless)
        return {"run_id": self._start_run(body, body.get("notebook_params") or {})}

    def _active_ends(self, job_id: int) -> list[float]:
        """When the job's runs that are not over end, soonest first."""
        now = time.monotonic()
        return sorted(
            self._end(run)
            for run in self.runs.values()
            if run["job_id"] == job_id and run["tasks"] and not self._over(run, now)
        )

    def _start_run(self, settings: dict, widgets: dict, job_id: int | None = None) -> int:
        run_id = next(self._ids)
        now = time.monotonic()
        run = {"job_id": job_id, "tasks": [], "widgets": widgets, "cancelled": False}
        limit = settings.get("max_concurrent_runs", 1)
        ends = self._active_ends(job_id) if job_id is not None else []
        if len(ends) >= limit:
            if not (settings.get("queue") or {"enabled": True})["enabled"]:
                self.runs[run_id] = {**run, "skipped": True, "started": now, "started_at": 0}
                return run_id
            # Queued: it starts when a run ends and leaves it a place.
            now = ends[len(ends) - limit]
        run.update(started=now, started_at=time.time() + (now - time.monotonic()))
        outcomes = self._task_outcomes(settings, widgets)
        for task in settings.get("tasks", []):
            task_run_id = next(self._ids)
            outcome = outcomes[task["task_key"]]
            task_run = {
                "task_key": task["task_key"],
                "run_id": task_run_id,
                "start_time": int((run["started_at"] + outcome["offset"]) * 1000),
                "attempt_number": 0,
            }
            run["tasks"].append(task_run)
            self.runs[task_run_id] = {
                "job_id": job_id,
                "tasks": [],
                "task_key": task["task_key"],
                "parent": run_id,
                **outcome,
            }
        self.runs[run_id] = run
        return run_id

    def _task_outcomes(self, settings: dict, widgets: dict) -> dict[str, dict]:
        """Each task's start (seconds after the run's), duration and error, in graph order."""
        tasks = {task["task_key"]: task for task in settings.get("tasks", [])}
        outcomes: dict[str, dict] = {}
        while len(outcomes) < len(tasks):
            for key, task in tasks.items():
                upstream = [d["task_key"] for d in task.get("depends_on") or []]
                if key in outcomes or any(u not in outcomes for u in upstream):
                    continue
                failed_upstream = [u for u in upstream if outcomes[u]["result"] != "SUCCESS"]
                offset = max((outcomes[u]["end"] for u in upstream), default=0.0)
                if failed_upstream:
                    outcomes[key] = {"offset": offset, "end": offset, "result": "UPSTREAM_FAILED"}
                    continue
                task_widgets = {
                    **(task.get("notebook_task") or {}).get("base_parameters", {}),
                    **widgets,
                }
                error = self._task_error(settings, task, task_widgets.get("site"))
                outcomes[key] = {
                    "offset": offset,
                    "end": offset + self.run_seconds,
                    "result": "FAILED" if error else "SUCCESS",
                    "error": error,
                    "widgets": task_widgets,
                }
        return outcomes

    def _task_error(self, settings: dict, task: dict, site: str | None) -> str | None:
        path = (task.get("notebook_task") or {}).get("notebook_path")
        if path is not None and path not in self.notebooks:
            return (
                f'Unable to access the notebook "{path}". Either it does not exist, or the '
                "identity used to run this job lacks the required permissions."
            )
        missing = set(self.imports) - installed_packages(settings, task)
        if missing:
            return f"ModuleNotFoundError: No module named '{self.imports[min(missing)]}'"
        if self.failing_site in (None, site):
            return self.failures.get(task["task_key"])
        return None

    def _end(self, run: dict) -> float:
        if "parent" in run:
            return self.runs[run["parent"]]["started"] + run["end"]
        return max((self._end(self.runs[t["run_id"]]) for t in run["tasks"]), default=0.0)

    def _over(self, run: dict, now: float) -> bool:
        root = self.runs[run["parent"]] if "parent" in run else run
        return root.get("skipped") or self._cancelled(run) or now >= self._end(run)

    def _cancelled(self, run: dict) -> bool:
        root = self.runs[run["parent"]] if "parent" in run else run
        return root["cancelled"] or run.get("cancelled", False)

    def _state(self, run: dict) -> dict:
        root = self.runs[run["parent"]] if "parent" in run else run
        now = time.monotonic()
        if root.get("skipped"):
            return {
                "life_cycle_state": "SKIPPED",
                "result_state": "MAXIMUM_CONCURRENT_RUNS_REACHED",
                "state_message": "The run was skipped because the maximum concurrent runs "
                "were reached.",
            }
        if self._cancelled(run):
            return {
                "life_cycle_state": "TERMINATED",
                "result_state": "CANCELED",
                "state_message": "Run cancelled.",
            }
        if now < root["started"]:
            return {
                "life_cycle_state": "QUEUED",
                "state_message": "Queued: the job's maximum concurrent runs are running.",
            }
        if not self._over(run, now):
            return {"life_cycle_state": "RUNNING", "state_message": ""}
        if "parent" in run:
            result = run["result"]
        else:
            results = {
                self._state(self.runs[t["run_id"]]).get("result_state") for t in run["tasks"]
            }
            result = "SUCCESS" if results <= {"SUCCESS"} else "FAILED"
        message = {
            "SUCCESS": "",
            "FAILED": "Workload failed, see run output for details",
            "UPSTREAM_FAILED": "Upstream task failed",
        }
        return {
            "life_cycle_state": "TERMINATED",
            "result_state": result,
            "state_message": message[result],
        }

    def get_run(self, query, body):
        run_id = int(query["run_id"][0])
        if run_id not in self.runs:
            raise BadRequest(f"Run {run_id} does not exist.")
        run = self.runs[run_id]
        root = self.runs[run["parent"]] if "parent" in run else run
        return {
            "run_id": run_id,
            "job_id": run["job_id"],
            "start_time": int(root["started_at"] * 1000),
            "state": self._state(run),
            "tasks": [{**t, "state": self._state(self.runs[t["run_id"]])} for t in run["tasks"]],
            "run_page_url": f"http://fake-databricks/#job/{run['job_id']}/run/{run_id}",
        }

    def get_run_output(self, query, body):
        """One task run's output: "Retrieving the output of runs with multiple tasks is not
        supported" (INVALID_PARAMETER_VALUE, as quoted in PrefectHQ/prefect#13127;
        `runs/get-output`, https://docs.databricks.com/api/workspace/jobs/getrunoutput)."""
        run = self.runs[int(query["run_id"][0])]
        if "parent" not in run:
            raise BadRequest(
                "Retrieving the output of runs with multiple tasks is not supported. "
                "Please retrieve the output of each individual task run instead."
            )
        output = {"metadata": self.get_run(query, body)}
        state = output["metadata"]["state"]
        if state.get("result_state") == "FAILED":
            return {**output, "error": run["error"], "error_trace": f"Traceback …\n{run['error']}"}
        value = self.exit_values.get(run["task_key"])
        result = (
            {}
            if value is None or state.get("result_state") != "SUCCESS"
            else {"result": value, "truncated": False}
        )
        return {**output, "notebook_output": result}

    def cancel_run(self, query, body):
        """ "Cancels a job run or a task run" (`runs/cancel`,
        https://docs.databricks.com/api/workspace/jobs/cancelrun): it ends TERMINATED,
        CANCELED; the other tasks of a cancelled task's job run go on."""
        check_body(body, jobs.JobsAPI.cancel_run)
        self.runs[body["run_id"]]["cancelled"] = True
        return {}

    def workspace_status(self, query, body):
        """ "If path does not exist, this call returns an error RESOURCE_DOES_NOT_EXIST"
        (Workspace API, https://docs.databricks.com/api/workspace/workspace/getstatus)."""
        path = query.get("path", [""])[0]
        if path not in self.notebooks:
            raise NotFound("RESOURCE_DOES_NOT_EXIST", f"Path ({path}) doesn't exist.")
        return {"path": path, "object_type": "NOTEBOOK", "language": "PYTHON"}

    # --- what the tests look at ---------------------------------------------
    def bodies(self, route: str) -> list[dict]:
        method, _, path = route.partition(" ")
        return [b for m, p, b in self.requests if m == method and p.endswith(path)]

    def span(self, run_id: int) -> tuple[float, float]:
        """When the run started and ends (time.monotonic)."""
        run = self.runs[run_id]
        return run["started"], self._end(run)

    def task_widgets(self, run_id: int) -> dict[str, dict]:
        """The widget values each task of the job run saw, by task key."""
        return {
            t["task_key"]: self.runs[t["run_id"]].get("widgets", {})
            for t in self.runs[run_id]["tasks"]
        }


_ROUTES = {
    "GET 2.2/jobs/list": FakeDatabricks.list_jobs,
    "POST 2.2/jobs/create": FakeDatabricks.create_job,
    "POST 2.2/jobs/reset": FakeDatabricks.reset_job,
    "POST 2.2/jobs/run-now": FakeDatabricks.run_now,
    "POST 2.2/jobs/runs/submit": FakeDatabricks.submit_run,
    "GET 2.2/jobs/runs/get": FakeDatabricks.get_run,
    "GET 2.2/jobs/runs/get-output": FakeDatabricks.get_run_output,
    "POST 2.2/jobs/runs/cancel": FakeDatabricks.cancel_run,
    "GET 2.0/workspace/get-status": FakeDatabricks.workspace_status,
}


def serve(fake: FakeDatabricks, token: str) -> ThreadingHTTPServer:
    """Serve `fake` on a free loopback port in a daemon thread; requests need `token`."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            if self.headers.get("Authorization") != f"Bearer {token}":
                return self._send(401, {"error_code": "UNAUTHENTICATED"})
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}") if length else {}
            try:
                self._send(200, fake.handle(method, url.path, parse_qs(url.query), body))
            except BadRequest as error:
                self._send(400, {"error_code": "INVALID_PARAMETER_VALUE", "message": str(error)})
            except NotFound as error:
                self._send(404, {"error_code": error.error_code, "message": str(error)})

        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._answer("GET")

        def do_POST(self):
            self._answer("POST")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
