"""Background services started by this project, each tracked by a pid file and stopped by
that process id (its whole process group, so forked workers go with it).

The pid file also holds the process's start time: pids are reused (Linux wraps at 32,768
by default), and a stale file must never name a stranger to stop.
"""

import contextlib
import fcntl
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass(frozen=True)
class ManagedProcess:
    name: str
    state_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.state_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / f"{self.name}.log"

    @contextlib.contextmanager
    def starting(self):
        """Held from "is it running?" until it runs: of two starts at once, the second
        waits here and then finds the first one's process."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with (self.state_dir / f"{self.name}.start.lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def spawn(self, command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{process.pid} {_started_at(process.pid)}")
        return process

    def running_pid(self) -> int | None:
        """The pid if that process is alive, else None (a stale pid file is removed)."""
        try:
            pid_text, _, started = self.pid_file.read_text().partition(" ")
            pid = int(pid_text)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)  # Reap it if it is our exited child.
            alive = _started_at(pid)
        except (FileNotFoundError, ValueError, psutil.Error):
            alive = None
        if alive is None or (started and started != alive):
            self.pid_file.unlink(missing_ok=True)
            return None
        return pid

    def stop(self, kill: bool = False, timeout: float = 20) -> int | None:
        """Stop the process group; SIGKILL it if SIGTERM has not ended it in `timeout`."""
        pid = self.running_pid()
        if pid is None:
            return None
        _signal_group(pid, signal.SIGKILL if kill else signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.running_pid():
            time.sleep(0.1)
        if self.running_pid():
            _signal_group(pid, signal.SIGKILL)
            time.sleep(0.2)
        _signal_group(pid, signal.SIGKILL)  # Any worker left behind in the group.
        self.pid_file.unlink(missing_ok=True)
        return pid


def _started_at(pid: int) -> str | None:
    """When the process began, as the pid file records it; None if it is gone."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return f"{process.create_time():.2f}"
    except psutil.NoSuchProcess:
        return None


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)
