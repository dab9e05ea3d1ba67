"""What a notebook needs to start: its parameters, the Spark session of its target, the lake.

On Databricks the runtime gives each notebook `spark` and `dbutils`; parameters arrive as
widgets and the runtime's session is used as it is. Locally papermill injects the
parameters into the notebook and the session factory in env/ builds a session against
the local S3 server. A notebook calls `open_run(...)` and never needs to know which.
"""

from lakehouse.lake import Lake
from lakehouse.settings import LakeSettings

# Settings a Databricks job passes as job parameters (widgets), by LakeSettings field.
SETTING_WIDGETS = ("catalog", "raw_root")


def notebook_globals() -> dict:
    """The notebook's namespace, where Databricks defines `spark` and `dbutils`."""
    try:
        from IPython import get_ipython
    except ImportError:
        return {}
    shell = get_ipython()
    return shell.user_ns if shell is not None else {}


def _widgets():
    dbutils = notebook_globals().get("dbutils")
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


def spark_session(settings: LakeSettings):
    from pyspark.sql import SparkSession

    runtime_spark = notebook_globals().get("spark") or SparkSession.getActiveSession()
    if runtime_spark is not None:
        return runtime_spark
    if settings.target == "databricks":
        raise RuntimeError(
            "LAKE_TARGET is databricks but this notebook has no `spark` from the Databricks "
            "runtime; run it on a Databricks cluster or serverless, or set LAKE_TARGET=local"
        )
    from localenv.spark_session import build_local_session

    return build_local_session(settings)


def open_lake(settings: LakeSettings | None = None) -> Lake:
    """The lake of the configured target; `lake.sql(...)` takes logical table names."""
    settings = settings or LakeSettings(**widget_settings())
    lake = Lake(spark_session(settings), settings)
    lake.check_ready()
    return lake


def open_run(site: str, dump_id: str = "", run_id: str = ""):
    """The notebook's run: parameters from papermill or widgets, the lake, the dump."""
    from lakehouse.steps import run_context

    parameters = notebook_parameters(site=site, dump_id=dump_id, run_id=run_id)
    return run_context(open_lake(), **parameters)
