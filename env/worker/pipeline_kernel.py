"""The project's kernels: ipykernel, less one error line that a clean shutdown can log.

jupyter_client interrupts every kernel it shuts down (SIGINT, then a shutdown request).
When the signal lands while the kernel still finishes handling its last request, ipykernel
logs "KeyboardInterrupt caught in kernel." as an error, and the Airflow log of a notebook
task that succeeded showed an error line (seen once in a suite run). A Ctrl-C during a
cell is reported by the cell, not by this line, so dropping it hides nothing.
"""

import os
import sys

# As ipykernel_launcher does, before any other import: the working folder must not shadow
# installed modules.
if __name__ == "__main__" and sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

import logging  # noqa: E402

STRAY_INTERRUPT = "KeyboardInterrupt caught in kernel"


class DropStrayInterrupt(logging.Filter):
    """Drops ipykernel's report of an interrupt that reached no cell."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(STRAY_INTERRUPT)


def main() -> None:
    from ipykernel.kernelapp import IPKernelApp

    # traitlets names an application's logger after its class.
    logging.getLogger(IPKernelApp.__name__).addFilter(DropStrayInterrupt())
    IPKernelApp.launch_instance()


if __name__ == "__main__":
    main()
