"""What each step of a site last computed from, so that a run with nothing new to compute
skips the step: the same dump again takes seconds and commits nothing, and a quiet
quarter skips every step whose inputs it left as they were.

`bronze.step_runs` gets a row each time a step of a site finishes, with two keys:
- `inputs_key`, what the step computed from: a hash of the package's code and checks, the
  step's name, and for a bronze step the dump it loaded, for any other step the
  `output_key`s of its dependencies;
- `output_key`, what its tables hold, which the steps reading them compute from: its
  `inputs_key`, unless a bronze step read no file (each was byte for byte the one its
  table holds, or its table already held the dump), when it keeps the one it had.

So a dump that changes a table's rows changes every key downstream of that table, and
any change to the code changes every key. A step whose key is the one it last recorded,
and whose tables all exist, has nothing to do. A step about to rewrite its tables first
records empty keys: a step downstream never trusts tables that a failed run may have
left half-written. Rows are only ever appended, and Delta never fails an append for
another writer's commit.
"""

import hashlib
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, cached_property
from pathlib import Path
from typing import Any, NamedTuple, cast

from lakehouse.graph import Step
from lakehouse.lake import Lake
from lakehouse.tables import STEP_RUNS

PACKAGE = Path(__file__).resolve().parent
CODE_SUFFIXES = (".py", ".yml")
SCHEMA = (
    "site string, step string, inputs_key string, run_id string, recorded_at timestamp, "
    "output_key string"
)


class StepKeys(NamedTuple):
    """A step's newest row of `bronze.step_runs`: what it computed from, and what its
    tables hold; both None while it stopped part way."""

    inputs: str | None
    output: str | None


NO_KEYS = StepKeys(None, None)


@cache
def code_digest(package: Path = PACKAGE) -> str:
    """A hash of the package's code and checks: what every step computes with."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in CODE_SUFFIXES and "__pycache__" not in path.parts:
            digest.update(f"{path.relative_to(package)}\n".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def inputs_key(task: Step, dump_id: str, recorded: Mapping[str, StepKeys], code: str) -> str | None:
    """The key of what `task` computes from, or None when a dependency has no key."""
    if task.depends_on:
        keys = [recorded.get(dependency, NO_KEYS).output for dependency in task.depends_on]
        if None in keys:
            return None
        inputs = cast(list[str], keys)
    else:
        inputs = [dump_id]
    return hashlib.sha256("\n".join([code, task.name, *inputs]).encode()).hexdigest()


def latest_keys(rows: Iterable[Mapping[str, Any]]) -> dict[str, StepKeys]:
    """Per step, the keys of its newest row of `bronze.step_runs`. A row written before
    `output_key` existed holds what its `inputs_key` says."""
    oldest_first = sorted(rows, key=lambda row: row["recorded_at"])
    return {
        row["step"]: StepKeys(row["inputs_key"], row.get("output_key") or row["inputs_key"])
        for row in oldest_first
    }


def is_up_to_date(task: Step, dump_id: str, recorded: Mapping[str, StepKeys]) -> bool:
    """Whether the step's last recorded run computed from what it would compute from now
    (its tables aside)."""
    key = inputs_key(task, dump_id, recorded, code_digest())
    return key is not None and key == recorded.get(task.name, NO_KEYS).inputs


class KeysSeen:
    """Per lake and site, the keys this process has seen for one run: the table's, read
    once, then every key the process records. A run with several steps in one process
    (`make local-run`, `steps.run_all`) thus reads `bronze.step_runs` once instead of once
    per step, each read a round trip after a commit. Nothing else records meanwhile: a
    site's local runs hold its lock, and an Airflow or Databricks task is a process of
    its own, which reads the table afresh."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], tuple[str, dict[str, StepKeys]]] = {}

    @staticmethod
    def _of(lake: Lake, site: str) -> tuple[str, str]:
        return lake.location(STEP_RUNS), site

    def of_run(self, lake: Lake, site: str, run_id: str) -> dict[str, StepKeys] | None:
        """The keys seen for the run, or None when this process has not read them."""
        with self._lock:
            seen_run, keys = self._seen.get(self._of(lake, site), ("", {}))
            return dict(keys) if seen_run == run_id else None

    def remember(
        self, lake: Lake, site: str, run_id: str, keys: dict[str, StepKeys]
    ) -> dict[str, StepKeys]:
        """The keys of the run: those already seen (which have the records made since
        `keys` was read, in another thread), else `keys`."""
        with self._lock:
            seen = self._seen.get(self._of(lake, site))
            if seen is None or seen[0] != run_id:
                seen = self._seen[self._of(lake, site)] = (run_id, dict(keys))
            return dict(seen[1])

    def recorded(self, lake: Lake, site: str, step: str, keys: StepKeys) -> None:
        """Note keys this process appended to the table."""
        with self._lock:
            seen = self._seen.get(self._of(lake, site))
            if seen is not None:
                seen[1][step] = keys


KEYS_SEEN = KeysSeen()


def recorded_keys(lake: Lake, site: str, run_id: str = "") -> dict[str, StepKeys]:
    """Per step of the site, the keys its last run recorded: read on every call without
    a `run_id`, once per run in this process with one (see KeysSeen)."""
    keys = KEYS_SEEN.of_run(lake, site, run_id) if run_id else None
    if keys is not None:
        return keys
    keys = {}
    if lake.exists(STEP_RUNS):
        from pyspark.sql import functions as F  # Airflow reads the steps' declarations.

        # Every column: a table written before `output_key` existed lacks that one.
        rows = lake.read(STEP_RUNS).where(F.col("site") == site).collect()
        keys = latest_keys(row.asDict() for row in rows)
    return KEYS_SEEN.remember(lake, site, run_id, keys) if run_id else keys


def record(lake: Lake, site: str, step: str, keys: StepKeys, run_id: str) -> None:
    """Append one step's keys (empty: its tables are being rewritten) for the site."""
    row = (site, step, keys.inputs, run_id, datetime.now(UTC), keys.output)
    lake.append(lake.spark.createDataFrame([row], SCHEMA), STEP_RUNS, merge_schema=True)
    KEYS_SEEN.recorded(lake, site, step, keys)


@dataclass
class StepRun:
    """One run of a step: whether it has work, and the hooks its writes call first."""

    lake: Lake
    site: str
    task: Step
    run_id: str
    key: str | None
    last: StepKeys | None  # None: the step has no row yet.
    invalidated: bool = False
    rows_rewritten: bool = False  # It started rewriting a table's rows in this run.

    @property
    def last_key(self) -> str | None:
        """The inputs key its last row holds (None: no row, or it stopped part way)."""
        return None if self.last is None else self.last.inputs

    @property
    def last_run_died(self) -> bool:
        """Whether its last row holds empty keys: it stopped part way."""
        return self.last is not None and self.last.inputs is None

    @property
    def output_key(self) -> str | None:
        """What its tables hold once it is done: what it computed from, unless it is a
        bronze step that rewrote no table's rows in this run."""
        kept = None if self.last is None else self.last.output
        if self.task.depends_on or self.rows_rewritten or kept is None:
            return self.key
        return kept

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
        """Record empty keys before the step's first write (once): until it records its
        new keys, the steps downstream treat its tables as unknown. A step refused before
        it writes (an older dump, a bad file) leaves its keys as they were."""
        if self.last_key is not None and not self.invalidated:
            record(self.lake, self.site, self.task.name, NO_KEYS, self.run_id)
            self.invalidated = True

    def before_rewriting_rows(self) -> None:
        """`before_writing`, for a write of a table's rows (not only of the history
        tables): the steps reading them then have new inputs."""
        self.before_writing()
        self.rows_rewritten = True


@contextmanager
def step_run(lake: Lake, site: str, dump_id: str, run_id: str, task: Step) -> Iterator[StepRun]:
    """Around a step's writes: says whether it has work, and records what it computed
    from once the writes are done. A step with work calls `before_writing` before it
    writes; one without may skip."""
    recorded = recorded_keys(lake, site, run_id)
    key = inputs_key(task, dump_id, recorded, code_digest())
    run = StepRun(lake, site, task, run_id, key, recorded.get(task.name))
    yield run
    if key is not None and (run.invalidated or key != run.last_key):
        record(lake, site, task.name, StepKeys(key, run.output_key), run_id)
