"""A local fake of the Databricks Jobs REST API (2.2), enough for the Airflow provider:
jobs list/create/reset/run-now, runs submit/get/get-output/cancel, workspace get-status.

Every request body is checked against databricks-sdk's own types: the keys must be the
parameters of the SDK's method, and nested settings must survive the SDK's
`from_dict`/`as_dict` round trip without losing a field. A bad body gets HTTP 400, so
the Airflow task that sent it fails.
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


class BadRequest(ValueError):
    pass


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


@dataclass
class FakeDatabricks:
    """Every run (a job run or one of its task runs) is RUNNING for `run_seconds` after
    it starts, then TERMINATED with SUCCESS, unless it was cancelled. A task run's output
    holds the value its notebook passed to `dbutils.notebook.exit`: `exit_values`, by
    task key, or none."""

    run_seconds: float = 2.0
    exit_values: dict[str, str] = field(default_factory=dict)
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
                raise LookupError(route)
            return handler(self, query, body)

    def deploy_job(self, name: str, tasks: list[dict]) -> int:
        job_id = next(self._ids)
        self.jobs[job_id] = {"name": name, "tasks": tasks}
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
        return {"job_id": self.deploy_job(body["name"], body["tasks"])}

    def reset_job(self, query, body):
        check_body(body, jobs.JobsAPI.reset, jobs.JobSettings, "new_settings")
        if body["job_id"] not in self.jobs:
            raise BadRequest(f"no job {body['job_id']}")
        self.jobs[body["job_id"]] = body["new_settings"]
        return {}

    def run_now(self, query, body):
        check_body(body, jobs.JobsAPI.run_now)
        check_string_map(body, "notebook_params")
        job = self.jobs.get(body["job_id"])
        if job is None:
            raise BadRequest(f"no job {body['job_id']}")
        return {"run_id": self._start_run(job["tasks"], body, job_id=body["job_id"])}

    def submit_run(self, query, body):
        check_body(body, jobs.JobsAPI.submit)
        for task in body.get("tasks", []):
            check_body({"tasks": [task]}, jobs.JobsAPI.submit)
            lost = lost_fields(task, jobs.SubmitTask.from_dict(task).as_dict())
            if lost:
                raise BadRequest(f"submit: fields not in SubmitTask: {lost}")
        return {"run_id": self._start_run(body.get("tasks", []), body)}

    def _start_run(self, tasks: list[dict], request: dict, job_id: int | None = None) -> int:
        run_id = next(self._ids)
        started = {"started": time.monotonic(), "started_at": time.time()}
        task_runs = [
            {
                "task_key": task["task_key"],
                "run_id": next(self._ids),
                "start_time": int(started["started_at"] * 1000),  # The API's epoch ms.
                "attempt_number": 0,
            }
            for task in tasks
        ]
        self.runs[run_id] = {"job_id": job_id, "tasks": task_runs, **started}
        for task_run in task_runs:
            self.runs[task_run["run_id"]] = {
                "job_id": job_id,
                "tasks": [],
                "task_key": task_run["task_key"],
                **started,
            }
        return run_id

    def get_run(self, query, body):
        run_id = int(query["run_id"][0])
        run = self.runs[run_id]
        done = time.monotonic() - run["started"] >= self.run_seconds
        state = (
            {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS", "state_message": ""}
            if done
            else {"life_cycle_state": "RUNNING", "state_message": ""}
        )
        if run.get("cancelled"):
            state = {"life_cycle_state": "TERMINATED", "result_state": "CANCELED"}
        return {
            "run_id": run_id,
            "job_id": run["job_id"],
            "start_time": int(run["started_at"] * 1000),
            "state": state,
            "tasks": [{**t, "state": state} for t in run["tasks"]],
            "run_page_url": f"http://fake-databricks/#job/{run['job_id']}/run/{run_id}",
        }

    def get_run_output(self, query, body):
        run = self.runs[int(query["run_id"][0])]
        if run["tasks"]:  # As Databricks: a job run with several tasks has no one output.
            raise BadRequest("runs/get-output needs a task run's id")
        value = self.exit_values.get(run.get("task_key", ""))
        output = {} if value is None else {"result": value, "truncated": False}
        return {"notebook_output": output, "metadata": self.get_run(query, body)}

    def cancel_run(self, query, body):
        check_body(body, jobs.JobsAPI.cancel_run)
        self.runs[body["run_id"]]["cancelled"] = True
        return {}

    def workspace_status(self, query, body):
        return {"path": query.get("path", [""])[0], "object_type": "NOTEBOOK", "language": "PYTHON"}

    # --- what the tests look at ---------------------------------------------
    def bodies(self, route: str) -> list[dict]:
        method, _, path = route.partition(" ")
        return [b for m, p, b in self.requests if m == method and p.endswith(path)]


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
            except LookupError as error:
                self._send(404, {"error_code": "ENDPOINT_NOT_FOUND", "message": str(error)})

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
