"""What a notebook needs to start: its parameters, the Spark session of its target, the lake.

On Databricks the runtime gives each notebook `spark` and `dbutils`; parameters arrive as
widgets and the runtime's session is used as it is. Locally papermill injects the
parameters into the notebook, and the session comes from the local environment, which
registers its factory (a Spark Connect client, or an in-process Spark). A notebook calls
`open_run(...)` and never needs to know which.
"""

import json
from typing import TYPE_CHECKING, Any, cast

from lakehouse.lake import Lake
from lakehouse.settings import LakeSettings
from lakehouse.target import databricks_utilities, resolve

if TYPE_CHECKING:
    from lakehouse.steps import RunContext

# Settings a Databricks job passes as job parameters (widgets), by LakeSettings field.
SETTING_WIDGETS = ("catalog", "raw_root")


def _widgets() -> Any:
    dbutils = databricks_utilities()
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


def open_lake(settings: LakeSettings | None = None) -> Lake:
    """The lake of the configured target; `lake.sql(...)` takes logical table names."""
    # Field names known only at run time: mypy cannot match their values to the fields.
    settings = settings or LakeSettings(**cast(dict[str, Any], widget_settings()))
    lake = Lake(resolve(settings).spark_session(), settings)
    lake.check_ready()
    return lake


def open_run(site: str, dump_id: str = "", run_id: str = "") -> "RunContext":
    """The notebook's run: parameters from papermill or widgets, the lake, the dump. On
    Databricks the run notes the tables its step changes, for `finish_run`."""
    from lakehouse.steps import run_context

    parameters = notebook_parameters(site=site, dump_id=dump_id, run_id=run_id)
    return run_context(open_lake(), **parameters, tracks_changes=databricks_utilities() is not None)


def finish_run(ctx: "RunContext") -> None:
    """On Databricks, end the notebook with the tables its step changed as the exit value,
    which the Airflow operator turns into Asset events (lakehouse.table_changes).
    Elsewhere nothing: the local operator reads the tables itself."""
    dbutils = databricks_utilities()
    if dbutils is not None:
        dbutils.notebook.exit(json.dumps({"site": ctx.site, "tables": ctx.changed_tables}))
