"""Run notebooks one after another in one kernel, so a run starts the local Spark once:
the first notebook's `open_run` builds the session and the next ones find it active.
Parameters are injected as papermill does, and every executed notebook is saved, also
when it fails."""

import contextlib
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, cast

import nbformat
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from lakehouse.settings import environment_set
from worker.error_lines import NotebookFailed
from worker.kernel_specs import PIPELINE_KERNEL, with_pipeline_kernel

if TYPE_CHECKING:
    from jupyter_client.manager import AsyncKernelManager, KernelManager


class _Client(NotebookClient):
    """nbclient's client, noting Ctrl-C. During a cell, nbclient's own SIGINT handler shuts
    the kernel down through this method, and the cell then fails as a dead kernel; with
    `cleanup_kc=False` nothing else calls it."""

    interrupted = False

    async def _async_cleanup_kernel(self) -> None:
        self.interrupted = True
        await super()._async_cleanup_kernel()


class SharedKernel:
    """With `log`, the kernel's own output (ipykernel's log, its JVM's) goes to that file,
    not to the terminal: on Ctrl-C the kernel logs errors of its sockets closing under it,
    and the user's one line must stay the last word."""

    def __init__(self, cwd: Path, kernel_name: str = PIPELINE_KERNEL, log: Path | None = None):
        self.cwd, self.kernel_name, self.log = cwd, kernel_name, log
        self.kernel_manager: KernelManager | None = None

    def _kernel_output(self, stack: contextlib.ExitStack) -> dict:
        """Where a kernel started now writes: the log, or this process's own streams."""
        if self.log is None or self.kernel_manager is not None:
            return {}
        output = stack.enter_context(self.log.open("ab"))
        return {"stdout": output, "stderr": output}

    def run(self, source: Path, output: Path, parameters: dict[str, str]) -> None:
        # papermill's loader, not nbformat's: it gives every cell the `tags` it expects.
        notebook = parameterize_notebook(
            load_notebook_node(str(source)),
            parameters,
            kernel_name=self.kernel_name,
            language="python",
        )
        client = _Client(
            notebook,
            km=self.kernel_manager,
            kernel_name=self.kernel_name,
            resources={"metadata": {"path": str(self.cwd)}},
        )
        try:
            with environment_set(with_pipeline_kernel()), contextlib.ExitStack() as stack:
                client.execute(cleanup_kc=False, **self._kernel_output(stack))
            self.kernel_manager = client.km
        except CellExecutionError as error:
            self.kernel_manager = client.km
            raise NotebookFailed(error.ename, error.evalue) from None
        except DeadKernelError as error:
            self.kernel_manager = None
            if client.interrupted:
                raise KeyboardInterrupt from None
            where = f" (its log: {self.log})" if self.log else ""
            raise NotebookFailed("DeadKernelError", f"{error}{where}") from None
        finally:
            if client.kc is not None:
                client.kc.stop_channels()
            nbformat.write(notebook, output)

    def close(self, interrupted: bool = False) -> None:
        manager, self.kernel_manager = self.kernel_manager, None
        if manager is None or not manager.has_kernel:
            return
        if not interrupted:
            # nbclient's own kernel manager class: its shutdown_kernel is a coroutine
            run_sync(cast("AsyncKernelManager", manager).shutdown_kernel)(now=False)
            return
        # Ctrl-C left the client's event loop half-way; a polite shutdown through it
        # fails. The kernel runs in a process group of its own, with its JVM: end both.
        pgid = getattr(manager.provisioner, "pgid", None)
        if pgid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            manager.cleanup_connection_file()

    def __enter__(self) -> "SharedKernel":
        return self

    def __exit__(self, exc_type, *_) -> None:
        self.close(interrupted=exc_type is KeyboardInterrupt)
