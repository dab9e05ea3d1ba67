"""produce_data_assets: fetch, verify, extract and upload the configured dumps, daily.

Each ingested dump updates the raw Assets (`s3://<bucket>/raw/Posts.xml`, ...) with
extras naming its site, dump_id and the file's sha1. A dump already in the lake is
skipped (no Asset event, so nothing runs downstream) unless, on target local, a step of
its site has not run on it yet.
"""

import logging
from datetime import timedelta

from airflow.sdk import Param, Variable, dag, task
from airflow.sdk.exceptions import AirflowSkipException

from lakehouse.target import TARGET_VARIABLE, chosen_target
from orchestration.assets import RAW_ASSETS
from orchestration.config import OrchestrationSettings
from orchestration.connections import AWS_CONN_ID, check_lake_reachable, lake_settings
from orchestration.raw_events import skip_reason

log = logging.getLogger(__name__)
SETTINGS = OrchestrationSettings()


@dag(
    dag_id="produce_data_assets",
    # No start_date: the timetable alone says when the first scheduled run comes.
    schedule=SETTINGS.produce_timetable(),
    catchup=False,
    max_active_runs=1,
    default_args=SETTINGS.task_defaults(),
    params={
        "dumps": Param(
            SETTINGS.dumps,
            type="array",
            items={"type": "string", "minLength": 1},
            minItems=1,
            description="`sample`, site names (fetched from archive.org), archive URLs or paths",
        )
    },
    description="Fetch, check and upload StackExchange dumps to the raw zone; each new "
    "dump's events start the medallion DAG",
    tags=["stackexchange", "raw"],
    doc_md=__doc__,
)
def produce_data_assets():
    @task
    def dumps_to_ingest(params=None) -> list[str]:
        """Checks connection `aws_conn` first, so a bad one fails here, by name."""
        check_lake_reachable(lake_settings(AWS_CONN_ID))
        return list(params["dumps"])

    @task(
        outlets=list(RAW_ASSETS.values()),
        map_index_template="{{ task.op_kwargs['dump'] }}",
        execution_timeout=timedelta(minutes=SETTINGS.ingest_timeout_minutes),
    )
    def ingest(dump: str, outlet_events=None) -> None:
        from worker.ingest.ingest_dump import ingest_dump
        from worker.ingest.sources import source_for_entry

        settings = lake_settings(AWS_CONN_ID)
        source = source_for_entry(
            dump,
            item=settings.archive_item,
            base_url=settings.archive_base_url,
            sample_dir=SETTINGS.sample_dir,
        )
        result = ingest_dump(source, settings, SETTINGS.work_dir)
        if result.already_ingested:
            target = chosen_target(None, Variable.get(TARGET_VARIABLE, default=None))
            if reason := skip_reason(settings, result, target):
                # Logged, not printed: the task's output reaches its log late, and can land
                # in the collapsed "Post Execute" group; a log line keeps its place, first.
                log.info("%s", reason)
                raise AirflowSkipException(reason)
            log.info(
                "%s dump %s is already in the lake, but not every step has run on it: its "
                "Asset events start the medallion",
                result.site,
                result.dump_id,
            )
        else:
            log.info("%s dump %s ingested at %s", result.site, result.dump_id, result.raw_uri)
        for file_name, asset in RAW_ASSETS.items():
            outlet_events[asset].extra = {
                "site": result.site,
                "dump_id": result.dump_id,
                "sha1": result.sha1.get(file_name),
                "rows": result.rows.get(file_name),
                "uri": f"{result.raw_uri}/{file_name}",
            }
        if result.missing:
            log.info("the dump has no %s; their Asset events say so", ", ".join(result.missing))

    ingest.expand(dump=dumps_to_ingest())


produce_data_assets()
