"""Run the medallion notebooks the way a Databricks job runs them, on this machine.

What is imitated, and how:
- The tasks run as the job's graph allows: the three bronze notebooks side by side, each
  in a process and an IPython namespace of its own holding `spark` and `dbutils`, as
  the runtime gives a notebook task its own REPL.
- Parameters arrive only as widgets; nothing is injected into the parameters cell.
- LAKE_TARGET is databricks, so tables resolve to three-part catalog names. The catalog
  is Spark's session catalog, `spark_catalog` (local Delta has no other), whose schemas
  are located in the lake bucket; tables already there are registered at start, the way
  Unity Catalog remembers them between jobs.
- Each notebook's session is a Spark Connect client of the local cluster, as a
  serverless notebook is of its cluster. That server's catalog outlives the job and is
  shared by its clients: it keeps the schemas for the next job, and serves one bucket
  only.
"""

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lakehouse.graph import in_dependency_order, run_graph
from lakehouse.settings import LakeSettings
from lakehouse.steps import PIPELINE
from lakehouse.table_locations import LAYERS, table_path
from worker.error_lines import NotebookFailed, message_line, one_line

IMITATION_CATALOG = "spark_catalog"


class ImitationWidgets:
    """`dbutils.widgets` as a job sees it: the job's values win over declared defaults."""

    def __init__(self, job_values: dict[str, str]):
        self._job_values = dict(job_values)
        self._defaults: dict[str, str] = {}

    def text(self, name: str, defaultValue: str, label: str | None = None) -> None:  # noqa: N803 (Databricks' name)
        self._defaults.setdefault(name, defaultValue)

    def get(self, name: str) -> str:
        if name in self._job_values:
            return self._job_values[name]
        if name in self._defaults:
            return self._defaults[name]
        raise ValueError(f"InputWidgetNotDefined: no widget named {name!r}")


class NotebookExit(Exception):  # noqa: N818 (what Databricks' own is called)
    """`dbutils.notebook.exit(value)`: the notebook ends here, and `value` is its result."""

    def __init__(self, value: str):
        super().__init__(value)
        self.value = value


class ImitationNotebookUtils:
    def exit(self, value: str) -> None:
        if not isinstance(value, str):  # Databricks' own refuses anything but a string.
            raise TypeError(f"dbutils.notebook.exit takes a string, got {type(value).__name__}")
        raise NotebookExit(value)


class ImitationDbutils:
    def __init__(self, job_values: dict[str, str]):
        self.widgets = ImitationWidgets(job_values)
        self.notebook = ImitationNotebookUtils()


class CatalogHeldForAnotherBucket(RuntimeError):
    """The server's catalog already locates the imitation's schemas in another bucket."""


def _delta_tables(client, bucket: str, layer: str) -> set[str]:
    listing = client.list_objects_v2(Bucket=bucket, Prefix=f"{layer}/", Delimiter="/")
    folders = [entry["Prefix"] for entry in listing.get("CommonPrefixes", [])]
    return {folder.split("/")[1] for folder in folders if folder.split("/")[1].isidentifier()}


def _schema_location(spark, schema: str) -> str:
    described = spark.sql(f"DESCRIBE SCHEMA EXTENDED {schema}").collect()
    return next(row[1] for row in described if row[0] == "Location").rstrip("/")


def _register_layer(spark, client, bucket: str, layer: str) -> None:
    """The schema of `layer` in the catalog, located in `bucket`, naming exactly the tables
    stored there: a name whose table is no longer stored (a bucket emptied since the last
    job) is dropped, which deletes nothing that is left."""
    schema = f"{IMITATION_CATALOG}.{layer}"
    location = f"s3a://{bucket}/{layer}"
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {schema} LOCATION '{location}'")
    held = _schema_location(spark, schema)
    if held != location:
        raise CatalogHeldForAnotherBucket(
            f"the Spark server's catalog holds {schema} at {held}, not {location} (setting "
            "LAKE_BUCKET): one server imitates Databricks for one bucket; restart it with "
            "`make spark-stop spark-start`"
        )
    registered = {row.tableName for row in spark.sql(f"SHOW TABLES IN {schema}").collect()}
    stored = _delta_tables(client, bucket, layer)
    for table in sorted(registered - stored):
        spark.sql(f"DROP TABLE {schema}.{table}")
    for table in sorted(stored - registered):
        spark.sql(
            f"CREATE TABLE {schema}.{table} USING DELTA "
            f"LOCATION '{table_path(bucket, f'{layer}.{table}')}'"
        )


def catalog_session(settings: LakeSettings):
    """A session of the local cluster whose `spark_catalog` holds the lake's schemas and
    tables; the server is started if it is down."""
    from laptop.local_cluster import with_spark
    from worker.ingest.raw_store import ensure_bucket, s3_client
    from worker.spark_session import connect_session

    client = s3_client(settings)
    ensure_bucket(client, settings.bucket)
    spark = connect_session(with_spark(settings).spark_remote, new=True)
    for layer in LAYERS:
        _register_layer(spark, client, settings.bucket, layer)
    return spark


def run_notebook(path: Path, spark, job_values: dict[str, str]) -> str | None:
    """Run the notebook's code cells in order; its exit value, if it called
    `dbutils.notebook.exit`, which also ends it."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    shell.reset(new_session=False)
    shell.user_ns.update(spark=spark, dbutils=ImitationDbutils(job_values))
    cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    for number, cell in enumerate(cells, start=1):
        with capture_output(display=False):
            result = shell.run_cell("".join(cell["source"]), store_history=False)
        if isinstance(result.error_in_exec, NotebookExit):
            return result.error_in_exec.value
        if not result.success:
            error = result.error_in_exec or result.error_before_exec
            cause = one_line(error)
            raise NotebookFailed(type(error).__name__, f"{path.name}, code cell {number}: {cause}")
    return None


# The most tasks the job's graph runs at once: its roots, the bronze notebooks.
SIDE_BY_SIDE = len([task for task in PIPELINE if not task.depends_on])
# How a notebook's process reports its end to the job: its exit value, or its error.
_EXIT_MARKER = "imitation exit value: "
_FAILED_MARKER = "imitation notebook failed: "


def run_notebook_process(path: Path, spark_remote: str, job_values: dict[str, str]) -> str | None:
    """`run_notebook` in a process of its own, a client of the server at `spark_remote`;
    the process is stopped if this one is interrupted while it runs."""
    process = subprocess.Popen(
        [sys.executable, "-m", "laptop.databricks_imitation", str(path), spark_remote],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "LAKE_TARGET": "databricks"},
    )
    try:
        stdout, stderr = process.communicate(json.dumps(job_values))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    for line in reversed(stdout.splitlines()):
        if line.startswith(_EXIT_MARKER):
            return json.loads(line.removeprefix(_EXIT_MARKER))
        if line.startswith(_FAILED_MARKER):
            ename, _, evalue = line.removeprefix(_FAILED_MARKER).partition(": ")
            raise NotebookFailed(ename, evalue)
    said = message_line(stderr) or f"code {process.returncode}"
    raise NotebookFailed("ImitationFailed", f"{path.name} ended without a result: {said}")


@dataclass(frozen=True)
class TaskRun:
    """A notebook task's exit value, as `runs/get-output` would give it, and when it ran
    (seconds after the job started)."""

    exit_value: str | None
    started: float
    ended: float


def run_job(
    notebooks_dir: Path, settings: LakeSettings, job_values: dict[str, str], on_notebook=print
) -> dict[str, TaskRun]:
    """Every notebook of the graph with the job's parameter values, side by side where the
    graph allows, by notebook in graph order."""
    from laptop.local_cluster import with_spark

    settings = with_spark(settings)
    catalog_session(settings).stop()
    job_start = time.monotonic()
    runs: dict[str, TaskRun] = {}

    def run_task(task) -> None:
        on_notebook(task.name)
        path = notebooks_dir / f"{task.name}.ipynb"
        started = time.monotonic() - job_start
        value = run_notebook_process(path, settings.spark_remote, job_values)
        runs[task.name] = TaskRun(value, started, time.monotonic() - job_start)

    run_graph(PIPELINE, run_task, parallel=SIDE_BY_SIDE)
    return {task.name: runs[task.name] for task in in_dependency_order(PIPELINE)}


def _notebook_process(path: Path, spark_remote: str) -> None:
    """The process of one notebook task: job values on stdin, its end on stdout."""
    from worker.spark_session import connect_session

    job_values = json.loads(sys.stdin.read())
    spark = connect_session(spark_remote, new=True)
    try:
        value = run_notebook(path, spark, job_values)
        print(_EXIT_MARKER + json.dumps(value), flush=True)
    except NotebookFailed as failure:
        print(f"{_FAILED_MARKER}{failure.ename}: {failure.evalue}", flush=True)
    finally:
        spark.stop()


if __name__ == "__main__":
    _notebook_process(Path(sys.argv[1]), sys.argv[2])
