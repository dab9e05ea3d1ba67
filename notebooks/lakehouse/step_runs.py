"""What each step of a site last computed from, so that a run with nothing new to compute
skips the step: the same dump again takes seconds and commits nothing.

`bronze.step_runs` gets a row each time a step of a site finishes, with a key of what
the step computed from: a hash of the package's code and checks, the step's name, and
- for a bronze step, the dump it loaded;
- for any other step, the keys its dependencies last recorded.

So a new dump changes every key downstream of its tables, and so does any change to the
code. A step whose key is the one it last recorded, and whose tables all exist, has
nothing to do. A step about to rewrite its tables first records an empty key: a step
downstream never trusts tables that a failed run may have left half-written. Rows are
only ever appended, and Delta never fails an append for another writer's commit.
"""

import hashlib
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, cached_property
from pathlib import Path
from typing import Any, cast

from lakehouse.graph import Step
from lakehouse.lake import Lake
from lakehouse.tables import STEP_RUNS

PACKAGE = Path(__file__).resolve().parent
CODE_SUFFIXES = (".py", ".yml")
KEY_COLUMNS = ("step", "inputs_key", "recorded_at")


@cache
def code_digest(package: Path = PACKAGE) -> str:
    """A hash of the package's code and checks: what every step computes with."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in CODE_SUFFIXES and "__pycache__" not in path.parts:
            digest.update(f"{path.relative_to(package)}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def inputs_key(task: Step, dump_id: str, recorded: dict[str, str | None], code: str) -> str | None:
    """The key of what `task` computes from, or None when a dependency has no key."""
    if task.depends_on:
        keys = [recorded.get(dependency) for dependency in task.depends_on]
        if None in keys:
            return None
        inputs = cast(list[str], keys)
    else:
        inputs = [dump_id]
    return hashlib.sha256("\n".join([code, task.name, *inputs]).encode()).hexdigest()


def latest_keys(rows: Iterable[Mapping[str, Any]]) -> dict[str, str | None]:
    """Per step, the key of its newest row of `bronze.step_runs` (None: interrupted)."""
    oldest_first = sorted(rows, key=lambda row: row["recorded_at"])
    return {row["step"]: row["inputs_key"] for row in oldest_first}


def is_up_to_date(task: Step, dump_id: str, recorded: dict[str, str | None]) -> bool:
    """Whether the step's last recorded run computed from what it would compute from now
    (its tables aside)."""
    key = inputs_key(task, dump_id, recorded, code_digest())
    return key is not None and key == recorded.get(task.name)


class KeysSeen:
    """Per lake and site, the keys this process has seen for one run: the table's, read
    once, then every key the process records. A run with several steps in one process
    (`make local-run`, `steps.run_all`) thus reads `bronze.step_runs` once instead of once
    per step, each read a round trip after a commit. Nothing else records meanwhile: a
    site's local runs hold its lock, and an Airflow or Databricks task is a process of
    its own, which reads the table afresh."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], tuple[str, dict[str, str | None]]] = {}

    @staticmethod
    def _of(lake: Lake, site: str) -> tuple[str, str]:
        return lake.location(STEP_RUNS), site

    def of_run(self, lake: Lake, site: str, run_id: str) -> dict[str, str | None] | None:
        """The keys seen for the run, or None when this process has not read them."""
        with self._lock:
            seen_run, keys = self._seen.get(self._of(lake, site), ("", {}))
            return dict(keys) if seen_run == run_id else None

    def remember(
        self, lake: Lake, site: str, run_id: str, keys: dict[str, str | None]
    ) -> dict[str, str | None]:
        """The keys of the run: those already seen (which have the records made since
        `keys` was read, in another thread), else `keys`."""
        with self._lock:
            seen = self._seen.get(self._of(lake, site))
            if seen is None or seen[0] != run_id:
                seen = self._seen[self._of(lake, site)] = (run_id, dict(keys))
            return dict(seen[1])

    def recorded(self, lake: Lake, site: str, step: str, key: str | None) -> None:
        """Note a key this process appended to the table."""
        with self._lock:
            seen = self._seen.get(self._of(lake, site))
            if seen is not None:
                seen[1][step] = key


KEYS_SEEN = KeysSeen()


def recorded_keys(lake: Lake, site: str, run_id: str = "") -> dict[str, str | None]:
    """Per step of the site, the key its last run recorded: read on every call without
    a `run_id`, once per run in this process with one (see KeysSeen)."""
    keys = KEYS_SEEN.of_run(lake, site, run_id) if run_id else None
    if keys is not None:
        return keys
    keys = {}
    if lake.exists(STEP_RUNS):
        from pyspark.sql import functions as F  # Airflow reads the steps' declarations.

        rows = lake.read(STEP_RUNS).where(F.col("site") == site)
        keys = latest_keys(row.asDict() for row in rows.select(*KEY_COLUMNS).collect())
    return KEYS_SEEN.remember(lake, site, run_id, keys) if run_id else keys


def record(lake: Lake, site: str, step: str, key: str | None, run_id: str) -> None:
    """Append one step's key (None: its tables are being rewritten) for the site."""
    row = (site, step, key, run_id, datetime.now(UTC))
    schema = "site string, step string, inputs_key string, run_id string, recorded_at timestamp"
    lake.append(lake.spark.createDataFrame([row], schema), STEP_RUNS)
    KEYS_SEEN.recorded(lake, site, step, key)


@dataclass
class StepRun:
    """One run of a step: whether it has work, and the hook its writes call first."""

    lake: Lake
    site: str
    task: Step
    run_id: str
    key: str | None
    last_key: str | None
    last_run_died: bool = False  # Its last row is an empty key: it stopped part way.
    invalidated: bool = False

    @cached_property
    def has_work(self) -> bool:
        """False when the step's key is the one it recorded last and its tables exist.
        Asked only by steps that can skip: a bronze step's own load checks its files."""
        if self.key is None or self.key != self.last_key:
            return True
        if not all(self.lake.exists(name) for name in self.task.writes):
            return True
        print(
            f"{self.task.name} of {self.site}: nothing to do, the code and inputs are "
            "those of its last run"
        )
        return False

    def finished_loading(self, dump_id: str) -> bool:
        """Whether the step's last run finished, with this code, loading `dump_id` (for a
        bronze step, whose key names the dump it loads)."""
        return self.last_key == inputs_key(self.task, dump_id, {}, code_digest())

    def before_writing(self) -> None:
        """Record an empty key before the step's first write (once): until it records its
        new key, the steps downstream treat its tables as unknown. A step refused before
        it writes (an older dump, a bad file) leaves its key as it was."""
        if self.last_key is not None and not self.invalidated:
            record(self.lake, self.site, self.task.name, None, self.run_id)
            self.invalidated = True


@contextmanager
def step_run(lake: Lake, site: str, dump_id: str, run_id: str, task: Step) -> Iterator[StepRun]:
    """Around a step's writes: says whether it has work, and records what it computed
    from once the writes are done. A step with work calls `before_writing` before it
    writes; one without may skip."""
    recorded = recorded_keys(lake, site, run_id)
    key = inputs_key(task, dump_id, recorded, code_digest())
    last_key = recorded.get(task.name)
    died = task.name in recorded and last_key is None
    run = StepRun(lake, site, task, run_id, key, last_key, last_run_died=died)
    yield run
    if key is not None and (run.invalidated or key != run.last_key):
        record(lake, site, task.name, key, run_id)
