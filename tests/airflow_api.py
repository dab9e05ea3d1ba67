"""A small client of Airflow 3's REST API (/api/v2), for the scheduler tests."""

import json
import time
import urllib.error
import urllib.request
from urllib.parse import quote

TERMINAL = {"success", "failed"}


class ApiError(RuntimeError):
    def __init__(self, status: int, body: str):
        super().__init__(f"HTTP {status}: {body[:2000]}")
        self.status = status


class AirflowApi:
    def __init__(self, url: str, username: str, password: str):
        self.url, self.username, self.password = url, username, password
        token = self._call("POST", "/auth/token", {"username": username, "password": password})
        self.token = token["access_token"]

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if getattr(self, "token", None):
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise ApiError(error.code, error.read().decode(errors="replace")) from None

    def get(self, path: str) -> dict:
        return self._call("GET", "/api/v2" + path)

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while True:
            listed = {dag["dag_id"] for dag in self.get("/dags?limit=100")["dags"]}
            if set(dag_ids) <= listed:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"DAGs not parsed within {timeout}s: {set(dag_ids) - listed}")
            time.sleep(2)

    def unpause(self, dag_id: str) -> None:
        self._call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        body = {"logical_date": None, "conf": conf or {}}
        return self._call("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict]:
        return self.get(f"/dags/{dag_id}/dagRuns?limit=100&order_by=run_after")["dag_runs"]

    def run(self, dag_id: str, run_id: str) -> dict:
        return self.get(f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        path = f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances?limit=200"
        return self.get(path)["task_instances"]

    def task_log(self, dag_id: str, run_id: str, task: dict) -> list[dict]:
        """The entries of a task instance's log (of `task_instances`), its last try."""
        path = (
            f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/"
            f"{task['task_id']}/logs/{task['try_number']}?map_index={task['map_index']}"
        )
        return self.get(path)["content"]

    def unfolded_log(self, dag_id: str, run_id: str, task: dict, timeout: float = 30) -> list[str]:
        """The task's log lines outside its `::group::`s, once it has some: a task's state
        can reach the API before its last lines reach its log."""
        deadline = time.monotonic() + timeout
        while not (lines := unfolded_lines(log := self.task_log(dag_id, run_id, task))):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{task['task_id']}'s log has no unfolded line after {timeout}s: {log}"
                )
            time.sleep(1)
        return lines

    def asset_events(self, dag_id: str, run_id: str) -> list[dict]:
        """The Asset events the run's tasks emitted."""
        query = f"source_dag_id={dag_id}&source_run_id={quote(run_id, safe='')}&limit=100"
        return self.get(f"/assets/events?{query}")["asset_events"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 900) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(dag_id, run_id)
            if run["state"] in TERMINAL:
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} run {run_id} still {run['state']} after {timeout}s")
            time.sleep(2)

    def wait_for_new_run(self, dag_id: str, known: set[str], timeout: float = 120) -> str:
        """The id of the first run of `dag_id` not in `known`, once the scheduler makes one."""
        deadline = time.monotonic() + timeout
        while True:
            new = [run["dag_run_id"] for run in self.runs(dag_id) if run["dag_run_id"] not in known]
            if new:
                return new[0]
            if time.monotonic() > deadline:
                raise TimeoutError(f"no new {dag_id} run within {timeout}s")
            time.sleep(1)

    def failure_report(self, dag_id: str, run_id: str) -> str:
        """Which tasks did not succeed, for an assertion message."""
        return ", ".join(
            f"{ti['task_id']}[{ti['map_index']}]={ti['state']}"
            for ti in self.task_instances(dag_id, run_id)
            if ti["state"] not in ("success", "skipped")
        )


def unfolded_lines(log: list[dict]) -> list[str]:
    """A task log's lines that the UI shows unfolded: those outside its `::group::`s."""
    depth, lines = 0, []
    for entry in log:
        event = entry.get("event", "")
        if event.startswith("::group::"):
            depth += 1
        elif event.startswith("::endgroup::"):
            depth -= 1
        elif depth == 0:
            lines.append(event)
    return lines
