"""`make airflow`: a local Airflow 3 (api-server, scheduler, dag-processor, triggerer) with
its own AIRFLOW_HOME, SQLite and LocalExecutor, the DAGs from dags/, and connection
`aws_conn` preset for the local S3. Each component is stopped by its process id."""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.target import resolve
from worker.paths import REPO_ROOT
from worker.processes import ManagedProcess

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
LOCAL_SETTINGS = REPO_ROOT / "env" / "airflow_config" / "airflow_local_settings.py"
USERNAME = "admin"


def place_local_settings(home: Path) -> None:
    """Airflow's local settings where Airflow looks for them: AIRFLOW_HOME/config."""
    (home / "config").mkdir(parents=True, exist_ok=True)
    shutil.copy(LOCAL_SETTINGS, home / "config")


@dataclass(frozen=True)
class LocalAirflow:
    home: Path
    port: int = 8080
    dags_folder: Path = REPO_ROOT / "dags"
    # Settings passed to every component, e.g. LAKE_* for the DAGs and notebooks.
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    def environment(self, lake_settings) -> dict[str, str]:
        env = {
            # Loopback only, unless the user's environment says otherwise.
            "AIRFLOW__API__HOST": "127.0.0.1",
            **os.environ,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            # LocalExecutor pre-forks `parallelism` workers; 4 keeps Airflow near 1 GB.
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
            "AIRFLOW__API__PORT": str(self.port),
            # Task workers reach the execution API through this address.
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            **lake_settings.environment(),
            **self.extra_env,
        }
        # The emulator's connection, unless the user brings their own.
        env.setdefault("AIRFLOW_CONN_AWS_CONN", aws_connection_json(lake_settings))
        return env

    def process(self, component: str) -> ManagedProcess:
        return ManagedProcess(f"airflow-{component}", self.home / "pids")

    def running(self) -> dict[str, int]:
        return {c: pid for c in COMPONENTS if (pid := self.process(c).running_pid())}

    def start(self, lake_settings, on_status=lambda text: None, timeout: float = 180) -> None:
        env = self.environment(lake_settings)
        place_local_settings(self.home)
        on_status("migrating the metadata database")
        _airflow(["db", "migrate"], env, self.home / "db-migrate.log")
        for component in COMPONENTS:
            if not self.process(component).running_pid():
                on_status(f"starting {component}")
                self.process(component).spawn(_airflow_command([component]), env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stopped = [c for c in COMPONENTS if not self.process(c).running_pid()]
            if stopped:
                logs = ", ".join(str(self.process(c).log_file) for c in stopped)
                self.stop()
                raise RuntimeError(f"Airflow {', '.join(stopped)} exited; see {logs}")
            health = self.health()
            unhealthy = [name for name, state in health.items() if state != "healthy"]
            if health and not unhealthy:
                return
            on_status(f"waiting for {', '.join(unhealthy) or 'the api-server'}")
            time.sleep(1)
        self.stop()
        raise TimeoutError(f"Airflow was not healthy within {timeout:.0f}s; logs in {self.home}")

    def health(self) -> dict[str, str]:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=2) as r:
                body = json.load(r)
        except (OSError, ValueError):
            return {}
        return {name: (part or {}).get("status", "unknown") for name, part in body.items()}

    def stop(self) -> list[str]:
        stopped = []
        for component in reversed(COMPONENTS):
            pid = self.process(component).stop(timeout=30)
            if pid:
                stopped.append(f"{component} (pid {pid})")
        return stopped

    def password(self) -> str:
        generated = self.home / "simple_auth_manager_passwords.json.generated"
        return json.loads(generated.read_text())[USERNAME]

    def reserialize(self, lake_settings) -> None:
        """Parse dags/ now rather than at the dag-processor's next refresh."""
        env = self.environment(lake_settings)
        _airflow(["dags", "reserialize"], env, self.home / "reserialize.log")


def aws_connection_json(lake_settings) -> str:
    return json.dumps(resolve(lake_settings).s3.airflow_connection())


def _airflow_command(arguments: list[str]) -> list[str]:
    return [str(Path(sys.executable).parent / "airflow"), *arguments]


def _airflow(arguments: list[str], env: dict[str, str], log: Path) -> None:
    with log.open("wb") as out:
        done = subprocess.run(_airflow_command(arguments), env=env, stdout=out, stderr=out)
    if done.returncode:
        raise RuntimeError(f"airflow {' '.join(arguments)} failed; see {log}")
