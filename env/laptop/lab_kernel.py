"""The lake kernel's start-up (an IPython extension): a Spark session on the lake,
`lake` for logical table names, and the `%sql` / `%%sql` magic. Nothing to configure.

A Spark error in a cell shows as one line that says what to do; its whole trace goes to
a log file the line names, not on the screen."""

import os
import re
import sys
import tempfile
import traceback
from pathlib import Path

from worker.error_lines import message_line, quiet_query_logs, with_lake_tables

MAX_ROWS = 1000
# Set in the kernel's environment by a lab that serves the lake read-only.
READ_ONLY_VARIABLE = "LAKE_LAB_READ_ONLY"
# The folder of the user's own tables, schema `sandbox`, set by the lab: on local disk,
# so it stays writable beside a read-only lake.
SANDBOX_VARIABLE = "LAKE_LAB_SANDBOX"
SANDBOX = "sandbox"
# How the read-only S3 endpoint (S3Proxy's read-only blob store) refuses a write.
WRITE_REFUSED = ("Status Code: 501", "implies functionality that is not implemented")
# A layer named as a schema (CREATE TABLE gold.x, SHOW TABLES IN gold): the layers are
# Delta paths, not schemas of Spark's catalog.
LAYER_AS_SCHEMA = re.compile(r"SCHEMA_NOT_FOUND.*`?spark_catalog`?\.`?(bronze|silver|gold)`?")
YOUR_OWN_TABLES = f"your own tables go in schema {SANDBOX} (CREATE TABLE {SANDBOX}.my_tags AS ...)"


def errors_log() -> Path:
    return Path(os.environ.get("JUPYTER_RUNTIME_DIR") or tempfile.gettempdir()) / "lake-errors.log"


def one_line(error: BaseException, read_only: bool, exists=lambda name: False) -> str:
    """What the user reads instead of the trace."""

    text = str(error).strip()
    if read_only and any(sign in text for sign in WRITE_REFUSED):
        return (
            f"The lab's lake is read-only, so exploring never changes a table; "
            f"{YOUR_OWN_TABLES}; to change the lake's, stop the lab (`make lab-stop`) and "
            "start it with `make lab WRITE=1`"
        )
    if layer := LAYER_AS_SCHEMA.search(text):
        lake = "read-only here" if read_only else "written by the pipeline"
        return (
            f"{layer.group(1)} is a layer of the lake ({lake}), not a schema of Spark's "
            f"catalog: name its tables in lake.sql(...) or %%sql; {YOUR_OWN_TABLES}"
        )
    return f"Spark: {with_lake_tables(message_line(text) or type(error).__name__, exists)}"


def open_sandbox(spark, folder: Path) -> None:
    """Schema `sandbox` in `folder`, with the tables earlier sessions created there. A
    table created without `USING` is Delta, as the lake's are, so the next session can
    tell it is a table from its log."""
    folder.mkdir(parents=True, exist_ok=True)
    spark.conf.set("spark.sql.sources.default", "delta")
    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {SANDBOX} LOCATION '{folder.as_uri()}'")
    # The lab's Spark keeps its catalog between kernels: register only what it lacks.
    known = {table.name for table in spark.catalog.listTables(SANDBOX)}
    for table in sorted(folder.glob("*/_delta_log")):
        if table.parent.name in known:
            continue
        spark.sql(
            f"CREATE TABLE IF NOT EXISTS {SANDBOX}.`{table.parent.name}` USING delta "
            f"LOCATION '{table.parent.as_uri()}'"
        )


def _log(error: BaseException) -> Path:
    log = errors_log()
    with log.open("a") as out:
        out.write("".join(traceback.format_exception(error)) + "\n")
    return log


def _report_the_notebooks_language(ipython) -> None:
    """Python's version without its patch level, as explore.ipynb states it: JupyterLab
    writes what the kernel reports into the notebook, so a patch level that differs from
    the committed one would mark the tour changed the moment it opens."""
    kernel = getattr(ipython, "kernel", None)
    if kernel is not None:
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        kernel.language_info = {**kernel.language_info, "version": version}


def load_ipython_extension(ipython) -> None:
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    from lakehouse.runtime import open_lake

    quiet_query_logs()
    _report_the_notebooks_language(ipython)
    read_only = os.environ.get(READ_ONLY_VARIABLE) == "1"
    lake = open_lake()
    if sandbox := os.environ.get(SANDBOX_VARIABLE):
        open_sandbox(lake.spark, Path(sandbox))
    ipython.push({"spark": lake.spark, "lake": lake})

    def explain(error: BaseException) -> str:
        return f"{one_line(error, read_only, lake.exists)} (details: {_log(error)})"

    def spark_error(shell, kind, error, trace, tb_offset=None):
        # IPython discards what a custom handler returns; showing it is the handler's job.
        shown = [explain(error)]
        shell._showtraceback(kind, error, shown)
        return shown

    ipython.set_custom_exc((PySparkException, Py4JJavaError), spark_error)

    def sql(line: str, cell: str | None = None):
        """Run Spark SQL on logical names (`SELECT * FROM gold.most_popular_tags`) and
        show up to MAX_ROWS rows; a failing query prints one line, no traceback."""
        query = cell if cell is not None else line
        try:
            return lake.sql(query).limit(MAX_ROWS).toPandas()
        except (PySparkException, Py4JJavaError) as error:
            print(explain(error), file=sys.stderr)
            return None

    ipython.register_magic_function(sql, magic_kind="line_cell", magic_name="sql")
    access = "read-only" if read_only else "read and write"
    print(
        "StackExchange lake: `spark` and `lake` are ready; query with %%sql "
        f"(tables by logical name, e.g. gold.most_popular_tags), {access}, "
        f"S3 at {lake.settings.s3_endpoint}; {YOUR_OWN_TABLES}"
    )
