"""What a notebook needs to start: its parameters, the Spark session of its target, the lake.

On Databricks the runtime gives each notebook `spark` and `dbutils`; parameters arrive as
widgets and the runtime's session is used as it is. Locally papermill injects the
parameters into the notebook, and the session comes from the local environment, which
registers its factory (a Spark Connect client, or an in-process Spark). A notebook calls
`open_run(...)` and never needs to know which.
"""

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from lakehouse.lake import Lake
from lakehouse.settings import LakeSettings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from lakehouse.steps import RunContext

# Settings a Databricks job passes as job parameters (widgets), by LakeSettings field.
SETTING_WIDGETS = ("catalog", "raw_root")
# The entry-point group through which the local environment offers its Spark.
LOCAL_SPARK = "lakehouse.local_spark"


def notebook_globals() -> dict[str, Any]:
    """The notebook's namespace, where Databricks defines `spark` and `dbutils`."""
    try:
        from IPython import get_ipython
    except ImportError:
        return {}
    shell = get_ipython()
    return shell.user_ns if shell is not None else {}


def _dbutils() -> Any:  # Databricks' dbutils: no types
    return notebook_globals().get("dbutils")


def _widgets() -> Any:
    dbutils = _dbutils()
    return None if dbutils is None else dbutils.widgets


def notebook_parameters(**defaults: str) -> dict[str, str]:
    """The run's parameter values. Locally papermill has already put them in the
    parameters cell, so `defaults` are the values; on Databricks each becomes a text
    widget with that default, and the job's value, if it passes one, wins."""
    widgets = _widgets()
    if widgets is None:
        return dict(defaults)
    for name, default in defaults.items():
        widgets.text(name, default)
    return {name: widgets.get(name) for name in defaults}


def widget_settings() -> dict[str, str]:
    """The settings a Databricks job passed as parameters; none locally."""
    if _widgets() is None:
        return {}
    values = notebook_parameters(**dict.fromkeys(SETTING_WIDGETS, ""))
    return {name: value for name, value in values.items() if value}


def spark_session(settings: LakeSettings) -> "SparkSession":
    """The runtime's Spark on Databricks, else the one the local environment builds."""
    from pyspark.sql import SparkSession

    runtime_spark = notebook_globals().get("spark") or SparkSession.getActiveSession()
    if runtime_spark is not None:
        return runtime_spark
    if settings.target == "databricks":
        raise RuntimeError(
            "LAKE_TARGET is databricks but this notebook has no `spark` from the Databricks "
            "runtime; run it on a Databricks cluster or serverless, or set LAKE_TARGET=local"
        )
    return _local_spark()(settings)


def _local_spark() -> Callable[[LakeSettings], "SparkSession"]:
    """The session factory the laptop's environment registers (an entry point, in
    pyproject.toml): a client of LAKE_SPARK_REMOTE, or an in-process Spark. This package
    never imports that environment, so it runs on Databricks without it."""
    from importlib.metadata import entry_points

    factories = entry_points(group=LOCAL_SPARK, name="session")
    if not factories:
        raise RuntimeError(
            "no Spark here: this is not Databricks, and the local environment, which "
            f"registers the entry point {LOCAL_SPARK}, is not installed (`make setup`)"
        )
    factory: Callable[[LakeSettings], SparkSession] = next(iter(factories)).load()
    return factory


def open_lake(settings: LakeSettings | None = None) -> Lake:
    """The lake of the configured target; `lake.sql(...)` takes logical table names."""
    # Field names known only at run time: mypy cannot match their values to the fields.
    settings = settings or LakeSettings(**cast(dict[str, Any], widget_settings()))
    lake = Lake(spark_session(settings), settings)
    lake.check_ready()
    return lake


def open_run(site: str, dump_id: str = "", run_id: str = "") -> "RunContext":
    """The notebook's run: parameters from papermill or widgets, the lake, the dump. On
    Databricks the run notes the tables its step changes, for `finish_run`."""
    from lakehouse.steps import run_context

    parameters = notebook_parameters(site=site, dump_id=dump_id, run_id=run_id)
    return run_context(open_lake(), **parameters, tracks_changes=_dbutils() is not None)


def finish_run(ctx: "RunContext") -> None:
    """On Databricks, end the notebook with the tables its step changed as the exit value,
    which the Airflow operator turns into Asset events (lakehouse.table_changes).
    Elsewhere nothing: the local operator reads the tables itself."""
    dbutils = _dbutils()
    if dbutils is not None:
        dbutils.notebook.exit(json.dumps({"site": ctx.site, "tables": ctx.changed_tables}))
