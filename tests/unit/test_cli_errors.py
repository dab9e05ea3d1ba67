"""The one line a user sees for an error: delta-rs chains its causes over many lines,
and the line that says what happened is the last one."""

import pytest
from deltalake import DeltaTable

from laptop.ports import free_port
from worker.error_lines import error_line, one_line, with_lake_tables

pytestmark = pytest.mark.unit


def test_a_delta_rs_error_keeps_its_root_cause():
    nothing_listens = f"http://127.0.0.1:{free_port()}"
    options = {
        "AWS_ENDPOINT_URL": nothing_listens,
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
        "AWS_MAX_RETRIES": "0",
    }
    with pytest.raises(OSError) as raised:
        DeltaTable("s3://lake/gold/tags", storage_options=options)
    assert "\n" in str(raised.value), "delta-rs no longer chains causes over lines"
    line = one_line(raised.value)
    assert "\n" not in line and "\x1b" not in line
    assert line.startswith("Kernel error -> Generic S3 error: ")
    assert line.endswith("Connection refused (os error 111)")


def test_a_plain_message_is_its_first_line():
    assert one_line(ValueError("bad row 3\ndetails")) == "bad row 3"
    assert one_line(ValueError("")) == "ValueError('')"


def test_a_python_workers_exception_is_told_by_its_cause(spark):
    """Spark hands a Python worker's error back as a PythonException whose first line is
    blank; the line a run prints is the worker's own last line."""
    import pandas as pd
    from pyspark.errors import PythonException
    from pyspark.sql import functions as F

    def fails(values: pd.Series) -> pd.Series:
        raise TypeError("Cannot convert pyarrow.lib.ChunkedArray to pyarrow.lib.Array")

    with pytest.raises(PythonException) as raised:
        spark.range(1).select(F.pandas_udf(fails, "string")(F.col("id"))).collect()
    assert not str(raised.value).splitlines()[0].strip(), "the first line is no longer blank"
    assert error_line("PythonException", str(raised.value)) == (
        "PythonException: TypeError: Cannot convert pyarrow.lib.ChunkedArray to pyarrow.lib.Array"
    )


@pytest.mark.parametrize(
    ("message", "line"),
    [
        ("", "StepFailed (no message)"),
        ("\n  \n", "StepFailed (no message)"),
        (
            "\nTraceback (most recent call last):\n  File x\n    y\nKeyError: 'a'\n",
            "StepFailed: KeyError: 'a'",
        ),
        ("bad row 3\ndetails", "StepFailed: bad row 3"),
    ],
)
def test_a_failure_line_is_never_empty(message, line):
    assert error_line("StepFailed", message) == line


NOT_FOUND = "[TABLE_OR_VIEW_NOT_FOUND] The table or view `{}`.`{}` cannot be found. Verify."


def test_a_table_not_found_says_what_to_do_about_it():
    any_other = with_lake_tables(NOT_FOUND.format("gold", "nope"))
    assert "cannot be found. Verify. The lake's tables: bronze.posts, " in any_other
    lake_table = NOT_FOUND.format("gold", "posts_users")
    named_to_spark = with_lake_tables(lake_table, exists=lambda name: name == "gold.posts_users")
    assert named_to_spark.endswith(
        "gold.posts_users is a lake table, which spark.sql does not know by that name: "
        "query it with lake.sql(...) or %%sql."
    )
    not_written = with_lake_tables(lake_table)
    assert not_written.endswith("gold.posts_users is not written yet: `make local-run` writes it.")
