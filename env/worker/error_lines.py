"""The one line a failure is told in: what went wrong, never an empty message.

Messages arrive in several shapes. A Python worker's exception reaches the client as a
PythonException whose first line is blank and whose cause ends the worker's traceback;
delta-rs chains its causes over lines ("Generic S3 error / ↳ … / ↳ Connection refused").
"""

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakehouse.settings import LakeSettings

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
_TRACEBACK_START = "Traceback (most recent call last):"


def _traceback_cause(lines: list[str]) -> str | None:
    """The exception line that ends the last Python traceback among `lines`."""
    cause, in_traceback = None, False
    for line in lines:
        if line.strip() == _TRACEBACK_START:
            in_traceback = True
        elif in_traceback and line.strip() and not line[0].isspace():
            cause, in_traceback = line.strip(), False
    return cause


def message_line(message: str) -> str:
    """The line of `message` that says what went wrong; empty only when it says nothing."""
    lines = [_ANSI_ESCAPE.sub("", line).rstrip() for line in message.splitlines()]
    if cause := _traceback_cause(lines):
        return cause
    said = [line.strip() for line in lines if line.strip()]
    if not said:
        return ""
    causes = [line.removeprefix("↳").strip() for line in said[1:] if line.startswith("↳")]
    return f"{said[0]}: {causes[-1]}" if causes else said[0]


# A Python worker that cannot import the package runs on a node that lacks it: only the
# driver's side was given it.
_PACKAGE_MISSING_ON_WORKER = "No module named 'lakehouse'"
_PACKAGE_FIX = (
    "the Spark workers cannot import the package: put notebooks/lakehouse in every "
    "worker's Python environment (docs/spark.md)"
)


def error_line(name: str, message: str) -> str:
    """`<name>: <the line that says what went wrong>`, or `<name> (no message)`."""
    line = message_line(message)
    if name == "PythonException" and _PACKAGE_MISSING_ON_WORKER in line:
        line = f"{line}; {_PACKAGE_FIX}"
    return f"{name}: {line}" if line else f"{name} (no message)"


def quiet_query_logs() -> None:
    """PySpark logs every failed query as JSON too (9 KB with the JVM's trace); the one
    line printed for the error says it once."""
    import logging

    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)


_NOT_FOUND_NAME = re.compile(r"TABLE_OR_VIEW_NOT_FOUND\].*?((?:`[^`]+`\.?)+) cannot be found")


def with_lake_tables(line: str, exists=lambda name: False) -> str:
    """`line`, and for a table that is not there, what to do: a lake table that `exists`
    was named to plain `spark.sql`, which knows no logical names; one not written yet
    waits for a run; any other name gets the tables the lake has."""
    if "TABLE_OR_VIEW_NOT_FOUND" not in line:
        return line
    from lakehouse.steps import TABLES

    found = _NOT_FOUND_NAME.search(line)
    name = found.group(1).replace("`", "") if found else ""
    if name in TABLES and exists(name):
        return (
            f"{line} {name} is a lake table, which spark.sql does not know by that name: "
            "query it with lake.sql(...) or %%sql."
        )
    if name in TABLES:
        return f"{line} {name} is not written yet: `make local-run` writes it."
    return f"{line} The lake's tables: {', '.join(TABLES)}."


def one_line(error: BaseException) -> str:
    """The line of an exception that says what went wrong, or its repr."""
    return message_line(str(error)) or repr(error)


class NotebookFailed(RuntimeError):
    """A notebook's cell raised `ename` with `evalue`, under any runner."""

    def __init__(self, ename: str, evalue: str):
        super().__init__(f"{ename}: {evalue}")
        self.ename, self.evalue = ename, evalue

    @property
    def first_line(self) -> str:
        """The error and its cause in one line: for a Python worker's exception, the last
        line of the worker's traceback, not the PythonException's blank first line."""
        return error_line(self.ename, self.evalue or "")


class RunInterrupted(RuntimeError):
    """Ctrl-C: the run stopped between two commits; running it again resumes it."""


# Errors whose message already says what to fix; anything else gets a trace file too.
USER_ERRORS = (ValueError, LookupError, OSError, RuntimeError)


def lake_settings_or_exit(**stated: Any) -> "LakeSettings":
    """The settings, with those of `stated` that are set; a bad one ends the process with
    one line naming the variable, its value and what it must be."""
    from pydantic import ValidationError

    from lakehouse.settings import LakeSettings, setting_error_line

    try:
        return LakeSettings(**{name: value for name, value in stated.items() if value})
    except ValidationError as error:
        raise SystemExit(f"error: bad setting {setting_error_line(error)}") from None
