"""The local S3 server: S3Proxy with its filesystem backend, so the lake is plain files.

S3Proxy keeps every object at `<data_dir>/<bucket>/<key>`, which makes the lake survive
restarts and crashes, and makes each Delta table a valid Delta directory on disk too.
A LocalStack already listening on the port is used as it is.
"""

import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from lakehouse.settings import EMULATOR_ACCESS_KEY, EMULATOR_SECRET_KEY
from worker.jars import S3PROXY_ARTIFACT, jar_path
from worker.java import require_supported_java
from worker.processes import ManagedProcess

# S3Proxy refuses single PUTs over a small default; S3A and boto3 send up to their
# multipart thresholds in one request, so allow 1 GiB plain and 5 GiB per part.
_MAX_NON_CHUNKED_REQUEST = 1 << 30
_MAX_SINGLE_PART_OBJECT = 5 << 30


@dataclass(frozen=True)
class S3Server:
    data_dir: Path
    state_dir: Path
    port: int
    host: str = "127.0.0.1"
    access_key: str = EMULATOR_ACCESS_KEY
    secret_key: str = EMULATOR_SECRET_KEY
    # Refuses every write: the JupyterLab kernel reads the lake through such a server.
    read_only: bool = False

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def process(self) -> ManagedProcess:
        return ManagedProcess("s3proxy", self.state_dir)

    @property
    def log_file(self) -> Path:
        return self.process.log_file

    def _write_properties(self) -> Path:
        properties = {
            "s3proxy.endpoint": self.endpoint,
            # Like LocalStack, accept any credentials: the server listens on loopback only,
            # and awslocal-style clients sign with keys of their own.
            "s3proxy.authorization": "none",
            "s3proxy.identity": self.access_key,
            "s3proxy.credential": self.secret_key,
            "s3proxy.v4-max-non-chunked-request-size": _MAX_NON_CHUNKED_REQUEST,
            "s3proxy.max-single-part-object-size": _MAX_SINGLE_PART_OBJECT,
            "jclouds.provider": "filesystem-nio2",
            "jclouds.filesystem.basedir": self.data_dir,
            "s3proxy.read-only-blobstore": str(self.read_only).lower(),
        }
        path = self.state_dir / "s3proxy.properties"
        path.write_text("".join(f"{key}={value}\n" for key, value in properties.items()))
        return path

    def running_pid(self) -> int | None:
        return self.process.running_pid()

    def _root_answer(self) -> tuple[int, bytes] | None:
        """The status and start of the body a GET of `/` gets, or None if nothing answers."""
        try:
            with urllib.request.urlopen(self.endpoint, timeout=2) as response:
                return response.status, response.read(4096)
        except urllib.error.HTTPError as error:
            return error.code, error.read(4096)
        except OSError:
            return None

    def answers(self) -> bool:
        """True when something speaks HTTP on the endpoint (any status counts)."""
        return self._root_answer() is not None

    def is_localstack(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/_localstack/health", timeout=1) as r:
                return "services" in json.load(r)
        except (OSError, ValueError):
            return False

    def start(self, timeout: float = 60) -> str:
        """Start S3Proxy unless an S3 server already answers; return what is serving."""
        with self.process.starting():
            return self._start(timeout)

    def _start(self, timeout: float) -> str:
        if pid := self.running_pid():
            answer = self._root_answer()
            if answer and answer[0] >= 500 and not self.data_dir.is_dir():
                raise RuntimeError(
                    f"The S3 server (pid {pid}) fails: its lake folder {self.data_dir} is "
                    "gone. Restart it with `make s3-stop s3-start` (the lake starts empty)"
                )
            return f"S3Proxy already running (pid {pid}) on {self.endpoint}"
        answer = self._root_answer()
        if answer is not None:
            if self.is_localstack():
                return f"LocalStack found on {self.endpoint}; using it as it is"
            status, body = answer
            if b"ListAllMyBucketsResult" not in body and b"<Code>" not in body:
                raise RuntimeError(
                    f"Port {self.port} is taken by something that is not our S3 server or "
                    f"LocalStack. Stop it, or set LAKE_S3_ENDPOINT to another port."
                )
            if status >= 500:
                raise RuntimeError(
                    f"The S3 server on {self.endpoint} fails (HTTP {status} on a bucket "
                    "list): a server left running by another checkout whose lake folder is "
                    "gone does this. Stop it (find it with `ps aux | grep s3proxy`), or set "
                    "LAKE_S3_ENDPOINT to another port."
                )
            return f"An S3 server already answers on {self.endpoint}; using it as it is"
        require_supported_java()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        process = self.process.spawn(self.command())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.process.pid_file.unlink(missing_ok=True)
                raise RuntimeError(
                    f"S3Proxy exited with code {process.returncode}; see {self.log_file}"
                )
            if self.answers():
                return (
                    f"S3Proxy started (pid {process.pid}) on {self.endpoint}, "
                    f"data in {self.data_dir}"
                )
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"S3Proxy did not answer on {self.endpoint} within {timeout}s")

    def command(self) -> list[str]:
        return [
            "java",
            "-jar",
            str(jar_path(S3PROXY_ARTIFACT)),
            "--properties",
            str(self._write_properties()),
        ]

    def serve(self) -> None:
        """Run S3Proxy in the foreground, in place of this process (a container's main
        process, as in kind/s3.yaml)."""
        require_supported_java()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        command = self.command()
        os.execvp(command[0], command)

    def stop(self, kill: bool = False, timeout: float = 20) -> str:
        pid = self.process.stop(kill=kill, timeout=timeout)
        return "S3Proxy is not running" if pid is None else f"S3Proxy stopped (pid {pid})"

    def status(self) -> str:
        pid = self.running_pid()
        if pid and self.answers():
            return f"running: S3Proxy pid {pid} on {self.endpoint}, data in {self.data_dir}"
        if pid:
            return f"starting or stuck: S3Proxy pid {pid} does not answer on {self.endpoint}"
        if self.answers():
            kind = "LocalStack" if self.is_localstack() else "an unknown server"
            return f"running: {kind} on {self.endpoint} (not managed by this project)"
        return f"stopped: nothing answers on {self.endpoint}"


def server_for(settings, data_dir: Path, state_dir: Path) -> S3Server:
    """An S3Proxy serving the settings' endpoint and test credentials from `data_dir`."""
    endpoint = urlparse(settings.s3_endpoint)
    return S3Server(
        data_dir=data_dir,
        state_dir=state_dir,
        host=endpoint.hostname,
        port=endpoint.port or 80,
        access_key=settings.aws_access_key_id,
        secret_key=settings.aws_secret_access_key.get_secret_value(),
    )


def local_server(settings) -> S3Server:
    """The user's S3 server, keeping the lake in ./lake."""
    from worker.paths import LAKE_DIR, S3_STATE_DIR

    return server_for(settings, LAKE_DIR, S3_STATE_DIR)


if __name__ == "__main__":  # Kind's S3 pod (kind/s3.yaml), whose image has no `lake` CLI.
    from worker.error_lines import lake_settings_or_exit

    local_server(lake_settings_or_exit()).serve()
