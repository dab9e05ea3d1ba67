"""The project's Jupyter kernels, each this interpreter's ipykernel, with their specs
under a JUPYTER_PATH of the project's own (no credentials in them: kernels inherit the
environment of whatever starts them).

The kernels listen on loopback only. ipykernel warns at start that loopback TCP is not
encrypted; under `make local-run` that reached the terminal, and under Airflow every task
log as an error line. The kernels run with the kernel application's log level at ERROR,
so that warning stays out and real errors still show.
"""

import hashlib
import json
import os
import sys
import tempfile
from functools import cache
from pathlib import Path

PIPELINE_KERNEL = "stackexchange-pipeline"
KERNEL_MODULE = "worker.pipeline_kernel"  # ipykernel, less a stray error line
QUIET_START = "--IPKernelApp.log_level=ERROR"


def install_kernel(
    jupyter_path: Path,
    name: str,
    display_name: str,
    extra_args: tuple[str, ...] = (),
    python: str = sys.executable,
) -> Path:
    """Write the kernel spec `name` under `jupyter_path`, run by `python`; its folder."""
    spec_dir = jupyter_path / "kernels" / name
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [
            python,
            "-m",
            KERNEL_MODULE,
            "-f",
            "{connection_file}",
            QUIET_START,
            *extra_args,
        ],
        "display_name": display_name,
        "language": "python",
        "metadata": {"debugger": True},
    }
    # Whole or not at all: runs started side by side write the same spec.
    written = spec_dir / f"kernel.json.{os.getpid()}"
    written.write_text(json.dumps(spec, indent=2))
    written.replace(spec_dir / "kernel.json")
    return spec_dir


@cache
def _pipeline_jupyter_path(python: str) -> Path:
    """One folder per interpreter (so per checkout), reused by every run: Airflow starts a
    process per task, and a folder each would pile up."""
    interpreter = hashlib.sha256(python.encode()).hexdigest()[:12]
    jupyter_path = Path(tempfile.gettempdir()) / f"stackexchange-kernels-{interpreter}"
    install_kernel(jupyter_path, PIPELINE_KERNEL, "StackExchange pipeline", python=python)
    return jupyter_path


def with_pipeline_kernel() -> dict[str, str]:
    """JUPYTER_PATH with the pipeline kernel's spec first, for the process that starts it
    (`environment_set`): the kernel runs the `job_python` setting's interpreter."""
    from lakehouse.settings import LakeSettings

    python = LakeSettings().job_python or sys.executable
    found = [str(_pipeline_jupyter_path(python)), os.environ.get("JUPYTER_PATH", "")]
    return {"JUPYTER_PATH": os.pathsep.join(part for part in found if part)}
