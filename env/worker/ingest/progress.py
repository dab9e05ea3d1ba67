"""Progress bars for the long steps (download, extract, upload), quiet when not a terminal."""

import contextlib
import sys
from collections.abc import Callable, Iterator

from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TimeElapsedColumn,
    TransferSpeedColumn,
)


@contextlib.contextmanager
def byte_progress(label: str, total: int, completed: int = 0) -> Iterator[Callable[[int], None]]:
    """Yield `advance(n_bytes)`; shows a live bar on a terminal, one line otherwise."""
    progress = Progress(
        f"[bold]{label}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        disable=not sys.stderr.isatty(),
        transient=False,
    )
    with progress:
        task = progress.add_task(label, total=total, completed=completed)
        yield lambda n: progress.advance(task, n)
    if not sys.stderr.isatty():
        print(f"{label}: {total / 1e6:.1f} MB", file=sys.stderr)
