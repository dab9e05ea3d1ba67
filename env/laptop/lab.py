"""`make lab`: JupyterLab on the project's environment, with the lake kernel.

The kernel "StackExchange lake (local)" starts with a Spark session, `lake` and a `%%sql`
magic ready (laptop.lab_kernel). By default it reads the lake through a second S3Proxy
over the same files that refuses every write, so exploring never changes bronze, silver
or gold, and its Spark is a Spark Connect server of the lab's own over that endpoint.
`writable=True` (`make lab WRITE=1`) gives it the lake's own endpoint and the shared
local Spark Connect server (laptop.local_cluster).
"""

import json
import os
import secrets
import socket
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from lakehouse.settings import LakeSettings
from laptop.lab_kernel import READ_ONLY_VARIABLE, SANDBOX_VARIABLE
from laptop.local_cluster import local_cluster
from laptop.ports import free_port
from laptop.spark_connect_server import SparkConnectServer
from worker import kernel_specs
from worker.processes import ManagedProcess
from worker.s3_server import S3Server

KERNEL_NAME = "stackexchange-lake"
KERNEL_DISPLAY_NAME = "StackExchange lake (local)"
FIRST_PORT = 8888
# Offline: no extension listing from PyPI, no news or update checks.
CLOSED_NETWORK_OPTIONS = [
    "--LabApp.extension_manager=readonly",
    "--LabApp.news_url=",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
]
# The lab's own user settings: no pop-up asking to fetch Jupyter's news over the notebook.
USER_SETTINGS = {"@jupyterlab/apputils-extension/notification": {"fetchNews": "false"}}


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        # As the server will bind: a port in TIME_WAIT after a restart counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def first_free_port(start: int, tries: int = 20) -> int:
    for port in range(start, start + tries):
        if port_is_free(port):
            return port
    raise RuntimeError(f"ports {start}-{start + tries - 1} are all taken; pass --port")


def install_kernel(jupyter_path: Path) -> Path:
    """The lake kernel's spec, under a JUPYTER_PATH of the project's own."""
    return kernel_specs.install_kernel(
        jupyter_path, KERNEL_NAME, KERNEL_DISPLAY_NAME, ("--ext=laptop.lab_kernel",)
    )


@dataclass(frozen=True)
class LocalLab:
    state_dir: Path
    data_dir: Path
    notebooks_dir: Path

    @property
    def process(self) -> ManagedProcess:
        return ManagedProcess("jupyterlab", self.state_dir)

    @property
    def info_file(self) -> Path:
        return self.state_dir / "lab.json"

    def info(self) -> dict | None:
        if not self.process.running_pid() or not self.info_file.exists():
            return None
        return json.loads(self.info_file.read_text())

    @property
    def sandbox_dir(self) -> Path:
        """Where schema `sandbox`, the user's own tables, keeps them."""
        return self.state_dir / "sandbox"

    def read_only_server(self, port: int) -> S3Server:
        return S3Server(self.data_dir, self.state_dir / "s3-read-only", port=port, read_only=True)

    def read_only_spark(self, settings: LakeSettings, port: int = 0) -> SparkConnectServer:
        return SparkConnectServer(settings, self.state_dir / "spark-read-only", port=port)

    def _read_only_cluster(self, settings: LakeSettings) -> LakeSettings:
        s3 = self.read_only_server(free_port())
        s3.start()
        settings = settings.model_copy(update={"s3_endpoint": s3.endpoint})
        spark = self.read_only_spark(settings, free_port())
        spark.start()
        return settings.model_copy(update={"spark_remote": spark.url})

    def start(self, settings: LakeSettings, port: int = FIRST_PORT, writable: bool = False):
        """Start JupyterLab (and the read-only S3 endpoint); return its info, with `note`
        saying why the port differs from the one asked for."""
        running = self.info()
        if running:
            return {**running, "note": "already running"}
        self.stop()  # Whatever a failed start left behind.
        chosen = first_free_port(port)
        note = "" if chosen == port else f"port {port} is taken; using {chosen}"
        settings = local_cluster(settings) if writable else self._read_only_cluster(settings)
        token = secrets.token_hex(24)
        jupyter_path = self.state_dir / "jupyter"
        install_kernel(jupyter_path)
        settings_dir = self.state_dir / "user-settings"
        for plugin, values in USER_SETTINGS.items():
            file = settings_dir / f"{plugin}.jupyterlab-settings"
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_text(json.dumps(values))
        environment = {
            **os.environ,
            **settings.environment(),
            "JUPYTER_PATH": str(jupyter_path),
            "JUPYTERLAB_SETTINGS_DIR": str(settings_dir),
            "JUPYTER_RUNTIME_DIR": str(self.state_dir / "runtime"),
            READ_ONLY_VARIABLE: "0" if writable else "1",
            SANDBOX_VARIABLE: str(self.sandbox_dir),
        }
        self.process.spawn(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                f"--port={chosen}",
                "--ServerApp.ip=127.0.0.1",
                "--ServerApp.port_retries=0",
                f"--ServerApp.root_dir={self.notebooks_dir}",
                f"--MappingKernelManager.default_kernel_name={KERNEL_NAME}",
                *CLOSED_NETWORK_OPTIONS,
                *(["--allow-root"] if os.geteuid() == 0 else []),
            ],
            env={**environment, "JUPYTER_TOKEN": token},
        )
        info = {
            "url": f"http://127.0.0.1:{chosen}/lab?token={token}",
            "port": chosen,
            "token": token,
            "s3_endpoint": settings.s3_endpoint,
            "spark_remote": settings.spark_remote,
            "writable": writable,
            "sandbox_dir": str(self.sandbox_dir),
        }
        self.info_file.write_text(json.dumps(info))
        self.info_file.chmod(0o600)
        try:
            self._wait_until_up(chosen)
        except Exception:
            self.stop()
            raise
        return {**info, "note": note}

    def _wait_until_up(self, port: int, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.process.running_pid():
                raise RuntimeError(f"JupyterLab exited; see {self.process.log_file}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2)
            except urllib.error.HTTPError:
                return  # It answers (403 without the token).
            except OSError:
                time.sleep(0.5)
                continue
            return
        raise TimeoutError(f"JupyterLab did not answer within {timeout}s")

    def stop(self) -> list[str]:
        stopped = []
        if self.process.stop() is not None:
            stopped.append("JupyterLab")
        if self.read_only_spark(LakeSettings()).process.stop() is not None:
            stopped.append("read-only Spark Connect")
        if self.read_only_server(0).process.stop() is not None:
            stopped.append("read-only S3Proxy")
        self.info_file.unlink(missing_ok=True)
        return stopped
