"""The local cluster: one Spark Connect server (PySpark's own) with Delta and S3A, that
every local runner reaches as a client, as notebooks reach Databricks serverless.

Its lifecycle is the S3 server's: start (once, under a start lock) and wait until it
answers a query, report status, stop by process id.
"""

import os
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyspark

from lakehouse.settings import LakeSettings
from worker.jars import spark_jars
from worker.java import require_supported_java
from worker.processes import ManagedProcess
from worker.spark_session import SparkLineMismatch, session_conf

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
SPARK_HOME = Path(pyspark.__file__).parent


@dataclass(frozen=True)
class SparkConnectServer:
    settings: LakeSettings
    state_dir: Path
    port: int
    host: str = "127.0.0.1"
    # A cluster's master URL (spark://host:port) and its executors' settings; empty: the
    # server runs local[N], its executors in its own JVM.
    master: str = ""
    executor_conf: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"sc://{self.host}:{self.port}"

    @property
    def process(self) -> ManagedProcess:
        return ManagedProcess("spark-connect", self.state_dir)

    @property
    def log_file(self) -> Path:
        return self.process.log_file

    @property
    def _serves_file(self) -> Path:
        return self.state_dir / "spark-connect.s3-endpoint"

    def command(self) -> list[str]:
        conf = {
            **session_conf(self.settings),
            **({"spark.master": self.master} if self.master else {}),
            **self.executor_conf,
            "spark.connect.grpc.binding.address": self.host,
            "spark.connect.grpc.binding.port": str(self.port),
        }
        command = [
            str(SPARK_HOME / "bin" / "spark-submit"),
            "--class",
            SERVER_CLASS,
            "--jars",
            ",".join(str(path) for path in spark_jars()),
        ]
        for key, value in conf.items():
            command += ["--conf", f"{key}={value}"]
        return [*command, "spark-internal"]

    def _listening(self) -> bool:
        try:
            socket.create_connection((self.host, self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def answers(self) -> bool:
        """True when a client session runs a query on it."""
        if not self._listening():
            return False
        from worker.spark_session import connect_session

        try:
            session = connect_session(self.url, new=True)
            try:
                session.sql("SELECT 1").collect()
            finally:  # Kept sessions must not keep a channel open: a start polls often.
                session.stop()
        except (ImportError, SparkLineMismatch):  # waiting for the server won't help
            raise
        except Exception:  # noqa: BLE001 - anything but an answer means "no"
            return False
        return True

    def start(self, timeout: float = 180) -> str:
        with self.process.starting():
            return self._start(timeout)

    def _start(self, timeout: float) -> str:
        if pid := self.process.running_pid():
            self._check_it_serves_this_lake()
            return f"Spark Connect already running (pid {pid}) on {self.url}"
        if self._listening():
            raise RuntimeError(
                f"Port {self.port} is taken by a process this project did not start; stop "
                "it, or set LAKE_SPARK_CONNECT_PORT to another port"
            )
        require_supported_java()
        env = {
            **os.environ,
            "SPARK_HOME": str(SPARK_HOME),
            # Python UDF workers (mapInArrow, the text UDFs) run the job's interpreter.
            "PYSPARK_PYTHON": self._worker_python,
            "SPARK_LOCAL_IP": "127.0.0.1",
        }
        process = self.process.spawn(self.command(), env=env)
        self._serves_file.write_text(self._serves)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.process.pid_file.unlink(missing_ok=True)
                raise RuntimeError(
                    f"Spark Connect exited with code {process.returncode}; see {self.log_file}"
                )
            try:
                answered = self.answers()
            except (ImportError, SparkLineMismatch):  # nothing will ever reach it
                self.stop()
                raise
            if answered:
                return f"Spark Connect started (pid {process.pid}) on {self.url}"
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"Spark Connect did not answer on {self.url} within {timeout}s")

    @property
    def _worker_python(self) -> str:
        return self.settings.job_python or sys.executable

    @property
    def _serves(self) -> str:
        return f"{self.settings.s3_endpoint}\n{self._worker_python}"

    def _check_it_serves_this_lake(self) -> None:
        """Its S3 endpoint and its workers' Python are fixed when it starts; a runner set
        to others would read and write the wrong lake, or test other libraries."""
        serves = self._serves_file.read_text() if self._serves_file.exists() else "unknown"
        endpoint, _, python = serves.partition("\n")
        if serves != self._serves:
            wanted = self.settings.s3_endpoint
            said = (
                f"reads the S3 server at {endpoint}, not LAKE_S3_ENDPOINT={wanted}"
                if endpoint != wanted
                else f"runs its Python workers in {python or 'unknown'}, not {self._worker_python}"
            )
            raise RuntimeError(
                f"Spark Connect on {self.url} {said}: stop it with `make spark-stop` and run again"
            )

    def stop(self) -> str:
        pid = self.process.stop()
        return (
            "Spark Connect is not running" if pid is None else f"Spark Connect stopped (pid {pid})"
        )

    def status(self) -> str:
        pid = self.process.running_pid()
        if pid and self._listening():
            return f"running: Spark Connect pid {pid} on {self.url}"
        if pid:
            return f"starting or stuck: Spark Connect pid {pid} does not answer on {self.url}"
        return f"stopped: nothing of this project's on {self.url}"


def local_spark_server(settings: LakeSettings) -> SparkConnectServer:
    """The user's server, with its pid and log in .local/spark-connect."""
    from worker.paths import SPARK_STATE_DIR

    return SparkConnectServer(settings, SPARK_STATE_DIR, port=settings.spark_connect_port)
