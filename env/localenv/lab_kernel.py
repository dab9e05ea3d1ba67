"""The lake kernel's start-up (an IPython extension): a Spark session on the lake,
`lake` for logical table names, and the `%sql` / `%%sql` magic. Nothing to configure."""

import logging
import sys

MAX_ROWS = 1000


def _first_paragraph(error: Exception) -> str:
    return str(error).strip().split("\n\n")[0]


def load_ipython_extension(ipython) -> None:
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    from lakehouse.runtime import open_lake

    # PySpark logs every failed query as JSON too; the magic prints the message once.
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    lake = open_lake()
    ipython.push({"spark": lake.spark, "lake": lake})

    def sql(line: str, cell: str | None = None):
        """Run Spark SQL on logical names (`SELECT * FROM gold.most_popular_tags`) and
        show up to MAX_ROWS rows; a failing query prints Spark's message, no traceback."""
        query = cell if cell is not None else line
        try:
            return lake.sql(query).limit(MAX_ROWS).toPandas()
        except (PySparkException, Py4JJavaError) as error:
            print(f"Spark: {_first_paragraph(error)}", file=sys.stderr)
            return None

    ipython.register_magic_function(sql, magic_kind="line_cell", magic_name="sql")
    print(
        "StackExchange lake: `spark` and `lake` are ready; query with %%sql "
        f"(tables by logical name, e.g. gold.most_popular_tags), S3 at {lake.settings.s3_endpoint}"
    )
