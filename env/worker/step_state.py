"""Whether a run of a site has anything to do, read with delta-rs before any Spark starts:
the same dump again then costs seconds, not a Spark server and eight notebooks."""

from deltalake import DeltaTable

from lakehouse.graph import in_dependency_order
from lakehouse.settings import LakeSettings
from lakehouse.step_runs import is_up_to_date, latest_keys
from lakehouse.steps import PIPELINE, TABLES
from lakehouse.tables import DQ_RESULTS, STEP_RUNS
from lakehouse.target import resolve
from worker.lake_summary import read_site_table, table_uri


def steps_with_work(settings: LakeSettings, site: str, dump_id: str) -> list[str]:
    """The steps whose code or inputs changed since their last run, whose tables are gone,
    or downstream of one that will run: all of them on a site's first run. And the data
    quality step while the dump has no counts in bronze.dq_results: a step with nothing
    to compute still carries them to a new dump (lakehouse.bronze.dq_results), and a run
    that stopped before may not have."""
    rows = read_site_table(settings, STEP_RUNS, site)  # Older tables lack `output_key`.
    recorded = latest_keys(rows.to_pylist() if rows is not None else [])
    options = resolve(settings).s3.delta_rs()
    missing = {
        name for name in TABLES if not DeltaTable.is_deltatable(table_uri(settings, name), options)
    }
    with_work: list[str] = []
    for task in in_dependency_order(PIPELINE):
        if (
            not is_up_to_date(task, dump_id, recorded)
            or missing.intersection(task.writes)
            or any(dependency in with_work for dependency in task.depends_on)
            or (DQ_RESULTS in task.writes and not _has_dq_results(settings, site, dump_id))
        ):
            with_work.append(task.name)
    return with_work


def _has_dq_results(settings: LakeSettings, site: str, dump_id: str) -> bool:
    results = read_site_table(settings, DQ_RESULTS, site, ["dump_id"])
    return results is not None and dump_id in results.column("dump_id").to_pylist()
