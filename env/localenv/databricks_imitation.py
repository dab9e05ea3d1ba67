"""Run the medallion notebooks the way a Databricks job runs them, on this machine.

What is imitated, and how:
- One Spark session stays up for the whole job, as a cluster does. Each notebook runs
  in a fresh IPython namespace holding `spark` and `dbutils`, as the runtime provides.
- Parameters arrive only as widgets; nothing is injected into the parameters cell.
- LAKE_TARGET is databricks, so tables resolve to three-part catalog names. The catalog
  is Spark's session catalog, `spark_catalog` (local Delta has no other), whose schemas
  are located in the lake bucket; tables already there are registered at start, the way
  Unity Catalog remembers them between jobs.
- The session is a Spark Connect client of the local cluster, as a serverless notebook
  is of its cluster. That server's catalog outlives the job and is shared by its
  clients: it keeps the schemas for the next job, and serves one bucket only.
"""

import json
from pathlib import Path

from lakehouse.graph import run_graph
from lakehouse.settings import LakeSettings, environment_set
from lakehouse.table_names import LAYERS, table_path
from localenv.error_lines import NotebookFailed, one_line

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
    from ingest.raw_store import ensure_bucket, s3_client
    from localenv.local_cluster import with_spark
    from localenv.spark_session import connect_session

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


def run_job(
    notebooks_dir: Path, settings: LakeSettings, job_values: dict[str, str], on_notebook=print
) -> dict[str, str | None]:
    """Every notebook of the graph, in order, with the job's parameter values; each
    notebook's exit value, as `runs/get-output` would give it."""
    spark = catalog_session(settings)
    exit_values: dict[str, str | None] = {}
    try:
        with environment_set({"LAKE_TARGET": "databricks"}):

            def run_task(task) -> None:
                on_notebook(task.notebook)
                path = notebooks_dir / f"{task.notebook}.ipynb"
                exit_values[task.notebook] = run_notebook(path, spark, job_values)

            run_graph(run_task)
    finally:
        spark.stop()
    return exit_values
