"""Services tracked by pid file: a stale file whose pid now belongs to another process
must never make `stop` signal that process (pids wrap at 32,768 on Linux)."""

import subprocess
import sys

import pytest

from worker.processes import ManagedProcess

pytestmark = pytest.mark.unit

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_a_spawned_process_is_found_and_stopped(tmp_path):
    service = ManagedProcess("sleeper", tmp_path)
    process = service.spawn(SLEEPER)
    assert service.running_pid() == process.pid
    assert service.stop() == process.pid
    assert service.running_pid() is None and not service.pid_file.exists()


def test_a_reused_pid_is_not_ours_and_is_left_alone(tmp_path):
    stranger = subprocess.Popen(SLEEPER, start_new_session=True)
    try:
        service = ManagedProcess("s3proxy", tmp_path)
        # What our long-gone service wrote, before the kernel gave its pid to the stranger.
        service.pid_file.write_text(f"{stranger.pid} 1.00")
        assert service.running_pid() is None
        assert not service.pid_file.exists()
        assert service.stop() is None
        assert stranger.poll() is None, "stop() signalled a process it did not start"
    finally:
        stranger.kill()
        stranger.wait()


def test_a_pid_file_from_before_start_times_is_still_honoured(tmp_path):
    service = ManagedProcess("sleeper", tmp_path)
    process = service.spawn(SLEEPER)
    service.pid_file.write_text(str(process.pid))  # as versions before this one wrote it
    assert service.running_pid() == process.pid
    assert service.stop() == process.pid
