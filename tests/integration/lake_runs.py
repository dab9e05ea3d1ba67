"""`lake run` as a user starts it, in a process of its own, for the tests that watch it."""

import fcntl
import io
import os
import pty
import subprocess
import sys
import termios
import threading
from pathlib import Path

from laptop.local_run import PAUSE_HOOK


class Run:
    """One `lake run --dump` in its own process group, as a terminal starts it; with
    `terminal`, its output goes to a pseudo-terminal, as a user in a terminal sees it."""

    def __init__(
        self, archive: Path, settings, work: Path, name: str, pause: str = "", terminal=False
    ):
        self.stderr_path = work / f"{name}.stderr"
        env = {
            **os.environ,
            "LAKE_BUCKET": settings.bucket,
            "LAKE_RUNS_DIR": str(work / "runs"),
            "LAKE_WORK_DIR": str(work / f"{name}-work"),
        }
        if pause:
            env[PAUSE_HOOK] = pause
        command = [sys.executable, "-m", "laptop.cli", "run", "--dump", str(archive)]
        if terminal:
            self._start_in_terminal(command, env)
            return
        with self.stderr_path.open("w") as stderr:
            self.process = subprocess.Popen(
                command, stdout=subprocess.DEVNULL, stderr=stderr, env=env, start_new_session=True
            )

    def _start_in_terminal(self, command: list[str], env: dict) -> None:
        """The run's own terminal (a pty, its controlling terminal, as a shell gives it);
        what it shows is copied to `stderr_path`."""
        self.stderr_path.touch()
        controller, terminal = pty.openpty()
        self.process = subprocess.Popen(
            command,
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
            env=env,
            start_new_session=True,
            # After setsid: the pty becomes the session's terminal, so its Ctrl-C signals
            # the run's whole foreground process group, kernel included.
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(terminal)
        self._controller = controller

        def copy() -> None:
            with self.stderr_path.open("wb") as shown:
                _copy_until_closed(controller, shown)

        self._copier = threading.Thread(target=copy, daemon=True)
        self._copier.start()

    def ctrl_c(self) -> None:
        """Type Ctrl-C in the run's terminal."""
        os.write(self._controller, b"\x03")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def wait(self, timeout: float = 900) -> int:
        code = self.process.wait(timeout=timeout)
        if getattr(self, "_copier", None):
            self._copier.join(timeout=10)
        return code


def in_terminal(command: list[str], env: dict, timeout: float = 600) -> tuple[int, str]:
    """Run `command` to its end with a pty as stdin, stdout and stderr, as a shell runs
    it; return its exit code and what the terminal showed (line ends as `\\n`)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        command, stdin=terminal, stdout=terminal, stderr=terminal, env=env, start_new_session=True
    )
    os.close(terminal)
    shown = io.BytesIO()
    _copy_until_closed(controller, shown)
    code = process.wait(timeout=timeout)
    return code, shown.getvalue().decode(errors="replace").replace("\r\n", "\n")


def _copy_until_closed(controller: int, sink) -> None:
    """Copy what a pty shows to `sink` until the command closes it; then close it."""
    while True:
        try:
            data = os.read(controller, 4096)
        except OSError:  # EIO: the command has closed the terminal
            break
        if not data:
            break
        sink.write(data)
        sink.flush()
    os.close(controller)
