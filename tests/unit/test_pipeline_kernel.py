"""The pipeline kernel logs no error for an interrupt that reaches no cell, which
jupyter_client's shutdown can send, and its cells still report their errors."""

import subprocess
import sys

import pytest
from jupyter_client.manager import KernelManager

from worker.kernel_specs import KERNEL_MODULE, PIPELINE_KERNEL, with_pipeline_kernel
from worker.pipeline_kernel import STRAY_INTERRUPT

# A request whose handler receives a SIGINT, as a request still being handled does when
# jupyter_client shuts the kernel down: ipykernel catches the interrupt outside any cell.
INTERRUPTED_REQUEST = (
    "import os, signal\n"
    "get_ipython().kernel.shell_handlers['interrupted_request'] = (\n"
    "    lambda *message: os.kill(os.getpid(), signal.SIGINT))"
)


@pytest.mark.parametrize("launcher", ["ipykernel_launcher", "worker.pipeline_kernel"])
def test_only_the_pipeline_kernel_drops_the_stray_interrupt_line(launcher, tmp_path, monkeypatch):
    for name, value in with_pipeline_kernel().items():
        monkeypatch.setenv(name, value)
    manager = KernelManager(kernel_name=PIPELINE_KERNEL)
    argv = manager.kernel_spec.argv
    argv[argv.index(KERNEL_MODULE)] = launcher
    stderr = tmp_path / "kernel.err"
    with stderr.open("w") as log:
        manager.start_kernel(stderr=log)
        client = manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            client.execute_interactive(INTERRUPTED_REQUEST, timeout=60)
            client.shell_channel.send(client.session.msg("interrupted_request", {}))
            reply = client.execute_interactive("1 / 0", timeout=60)
            assert reply["content"]["ename"] == "ZeroDivisionError"  # Cells still report.
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)
    logged = stderr.read_text()
    assert (STRAY_INTERRUPT in logged) == (launcher == "ipykernel_launcher"), logged


def test_the_pipeline_kernel_starts_from_any_folder(tmp_path):
    # Run from a folder holding a module named like one ipykernel imports.
    (tmp_path / "logging.py").write_text("raise SystemExit('shadowed')\n")
    result = subprocess.run(
        [sys.executable, "-m", "worker.pipeline_kernel", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
