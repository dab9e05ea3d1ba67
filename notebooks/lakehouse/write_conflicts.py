"""Retry a Delta write that lost a race with another writer.

Notebooks that the graph runs side by side (the three bronze loads) write to shared
tables such as `bronze.rejected_rows`. Delta's optimistic concurrency then fails the
later commit; re-running the whole write reads the new version and is safe, because
every write here is idempotent.
"""

import random
import time
from collections.abc import Callable

# Delta's concurrency exceptions, by the name they carry through py4j or Spark Connect.
_CONFLICT_MARKERS = (
    "ConcurrentAppendException",
    "ConcurrentDeleteReadException",
    "ConcurrentDeleteDeleteException",
    "ConcurrentTransactionException",
    "ConcurrentWriteException",
    "MetadataChangedException",
    "ProtocolChangedException",
    "DELTA_CONCURRENT",
    # Two writers creating the same new table: the later one finds it there, by its path,
    # its files not yet committed, or, in a catalog, by its name (Unity Catalog's error
    # class is Spark's: https://docs.databricks.com/error-messages/index.html).
    "DELTA_PATH_EXISTS",
    "PATH_ALREADY_EXISTS",
    "DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION",
    "TABLE_OR_VIEW_ALREADY_EXISTS",
    "DELTA_TABLE_ALREADY_EXISTS",
)


def is_write_conflict(error: Exception) -> bool:
    """Whether `error` is Delta's report of a concurrent writer's commit, or of a table
    that another writer created first."""
    text = f"{type(error).__name__}: {str(error)[:4000]}"
    return any(marker in text for marker in _CONFLICT_MARKERS)


def retry_on_conflict[T](write: Callable[[], T], what: str, attempts: int = 6) -> T:
    """Run `write`, again after a backoff while it loses to a concurrent writer."""
    for attempt in range(1, attempts + 1):
        try:
            return write()
        except Exception as error:
            if attempt == attempts or not is_write_conflict(error):
                raise
            delay = min(2**attempt, 30) * random.uniform(0.5, 1.0)
            print(f"{what}: another writer got there first; retry {attempt} in {delay:.1f}s")
            time.sleep(delay)
    raise AssertionError("unreachable")
