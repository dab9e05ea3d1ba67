"""A Spark standalone cluster on this machine, from the jars PySpark ships: a master and
workers, each its own JVM with its own work folder and its own Python environment
holding the package, and a Spark Connect server whose master is that cluster. No
executor runs in the driver's JVM, and every runner reaches it through its URL, as it
would reach a cluster of several machines (docs/spark.md).

A worker's Python environment is what a cluster node needs: the libraries of
requirements.databricks.lock (Databricks Runtime 18 LTS's) and a copy of the `lakehouse`
package. The driver names the Python of the workers as `python`, which each worker
finds first on its own PATH, as on a cluster of machines.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.settings import LakeSettings
from laptop.ports import free_port
from laptop.spark_connect_server import SPARK_HOME, SparkConnectServer
from worker.paths import DATABRICKS_LOCK_FILE, NOTEBOOKS_DIR
from worker.processes import ManagedProcess

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
# The Python the executors start, looked up on each worker's own PATH.
WORKER_PYTHON = "python"
# What a node's Spark install puts on its executors' PYTHONPATH itself.
SPARK_SHIPS = ("pyspark==", "py4j==")


def build_worker_python(target: Path, with_package: bool = True) -> Path:
    """A Python environment for one worker: the Databricks side's locked libraries, and
    (unless told otherwise) a copy of the package, as a node would have them installed.
    PySpark's own Python comes with the node's Spark (SPARK_HOME), as on any cluster."""
    uv = Path(sys.executable).parent / "uv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([str(uv), "venv", "--quiet", "--python", base, str(target)], check=True)
    libraries = target / "libraries.txt"
    libraries.write_text(
        "".join(
            line + "\n"
            for line in DATABRICKS_LOCK_FILE.read_text().splitlines()
            if not line.startswith(SPARK_SHIPS)
        )
    )
    subprocess.run(
        [
            str(uv),
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--python",
            str(target / "bin" / "python"),
        ]
        + ["--requirement", str(libraries)],
        check=True,
    )
    if with_package:
        install_package(target)
    return target


def install_package(target: Path) -> None:
    """Copy the package into the environment's site-packages (replacing an older copy)."""
    site_packages = next((target / "lib").glob("python3*/site-packages"))
    shutil.rmtree(site_packages / "lakehouse", ignore_errors=True)
    shutil.copytree(
        NOTEBOOKS_DIR / "lakehouse",
        site_packages / "lakehouse",
        ignore=shutil.ignore_patterns("__pycache__"),
    )


@dataclass(frozen=True)
class Worker:
    number: int
    folder: Path
    python_env: Path

    @property
    def process(self) -> ManagedProcess:
        return ManagedProcess(f"spark-worker-{self.number}", self.folder)

    @property
    def work_dir(self) -> Path:
        return self.folder / "work"


@dataclass
class StandaloneCluster:
    settings: LakeSettings
    state_dir: Path
    python_envs: tuple[Path, ...]
    cores_per_worker: int = 1
    memory_per_worker: str = "1g"
    master_port: int = field(default_factory=free_port)
    master_ui_port: int = field(default_factory=free_port)
    connect_port: int = field(default_factory=free_port)

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.master_port}"

    @property
    def master(self) -> ManagedProcess:
        return ManagedProcess("spark-master", self.state_dir)

    @property
    def workers(self) -> list[Worker]:
        return [
            Worker(number, self.state_dir / f"worker-{number}", python_env)
            for number, python_env in enumerate(self.python_envs, start=1)
        ]

    @property
    def connect_server(self) -> SparkConnectServer:
        return SparkConnectServer(
            self.settings.model_copy(update={"job_python": WORKER_PYTHON}),
            self.state_dir / "connect",
            port=self.connect_port,
            master=self.master_url,
            executor_conf={
                "spark.executor.cores": str(self.cores_per_worker),
                "spark.executor.memory": self.memory_per_worker,
                "spark.cores.max": str(self.cores_per_worker * len(self.python_envs)),
                # No job before every worker's executor is there (standalone's default: 0).
                "spark.scheduler.minRegisteredResourcesRatio": "1.0",
                **self._java_options("spark.executor.extraJavaOptions"),
            },
        )

    def _java_options(self, key: str) -> dict[str, str]:
        """Every JVM of the cluster takes the local Spark's flags (LAKE_SPARK_JAVA_OPTIONS)."""
        flags = self.settings.spark_java_options
        return {key: flags} if flags else {}

    @property
    def url(self) -> str:
        return self.connect_server.url

    def _spark_class(self, *arguments: str) -> list[str]:
        return [str(SPARK_HOME / "bin" / "spark-class"), *arguments]

    def _environment(self, path_first: Path | None = None) -> dict[str, str]:
        env = {
            **os.environ,
            "SPARK_HOME": str(SPARK_HOME),
            "SPARK_LOCAL_IP": "127.0.0.1",
            **self._java_options("SPARK_DAEMON_JAVA_OPTS"),  # the master's and workers'
        }
        if path_first:
            env["PATH"] = f"{path_first}{os.pathsep}{env.get('PATH', '')}"
        return env

    def start(self, timeout: float = 120) -> str:
        try:
            return self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> str:
        self.master.spawn(
            self._spark_class(
                MASTER_CLASS,
                *("--host", "127.0.0.1", "--port", str(self.master_port)),
                *("--webui-port", str(self.master_ui_port)),
            ),
            env=self._environment(),
        )
        for worker in self.workers:
            self.start_worker(worker)
        self._wait_for_workers(timeout)
        return self.connect_server.start(timeout)

    def start_worker(self, worker: Worker) -> None:
        """Start `worker`'s JVM (again, after it died): it registers with the master."""
        worker.work_dir.mkdir(parents=True, exist_ok=True)
        worker.process.spawn(
            self._spark_class(
                WORKER_CLASS,
                *("--host", "127.0.0.1", "--webui-port", "0"),
                *("--cores", str(self.cores_per_worker)),
                *("--memory", self.memory_per_worker),
                *("--work-dir", str(worker.work_dir)),
                self.master_url,
            ),
            env=self._environment(path_first=worker.python_env / "bin"),
        )

    def alive_workers(self) -> list[dict]:
        """The master's view of its workers that are ALIVE (its JSON status page)."""
        url = f"http://127.0.0.1:{self.master_ui_port}/json/"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                status = json.load(response)
        except OSError:
            return []
        return [w for w in status.get("workers", []) if w.get("state") == "ALIVE"]

    def _wait_for_workers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.alive_workers()) < len(self.python_envs):
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the standalone master {self.master_url} has "
                    f"{len(self.alive_workers())} of {len(self.python_envs)} workers after "
                    f"{timeout}s; see the logs in {self.state_dir}"
                )
            time.sleep(0.5)

    def stop(self) -> None:
        self.connect_server.stop()
        for worker in self.workers:
            worker.process.stop()
        self.master.stop()
