"""The lake kernel's start-up (an IPython extension): a Spark session on the lake,
`lake` for logical table names, and the `%sql` / `%%sql` magic. Nothing to configure.

A Spark error in a cell shows as one line that says what to do; its whole trace goes to
a log file the line names, not on the screen."""

import os
import sys
import tempfile
import traceback
from pathlib import Path

from localenv.error_lines import message_line, quiet_query_logs, with_lake_tables

MAX_ROWS = 1000
# Set in the kernel's environment by a lab that serves the lake read-only.
READ_ONLY_VARIABLE = "LAKE_LAB_READ_ONLY"
# How the read-only S3 endpoint (S3Proxy's read-only blob store) refuses a write.
WRITE_REFUSED = ("Status Code: 501", "implies functionality that is not implemented")


def errors_log() -> Path:
    return Path(os.environ.get("JUPYTER_RUNTIME_DIR") or tempfile.gettempdir()) / "lake-errors.log"


def one_line(error: BaseException, read_only: bool) -> str:
    """What the user reads instead of the trace."""

    text = str(error).strip()
    if read_only and any(sign in text for sign in WRITE_REFUSED):
        return (
            "The lab's lake is read-only, so exploring never changes a table; to write, "
            "stop the lab (`make lab-stop`) and start it with `make lab WRITE=1`"
        )
    return f"Spark: {with_lake_tables(message_line(text) or type(error).__name__)}"


def _log(error: BaseException) -> Path:
    log = errors_log()
    with log.open("a") as out:
        out.write("".join(traceback.format_exception(error)) + "\n")
    return log


def load_ipython_extension(ipython) -> None:
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    from lakehouse.runtime import open_lake

    quiet_query_logs()
    read_only = os.environ.get(READ_ONLY_VARIABLE) == "1"
    lake = open_lake()
    ipython.push({"spark": lake.spark, "lake": lake})

    def explain(error: BaseException) -> str:
        return f"{one_line(error, read_only)} (details: {_log(error)})"

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
        f"S3 at {lake.settings.s3_endpoint}"
    )
