"""Benchmark: the sample through Airflow (the producer's ingest, then the medallion run its
Asset events start), beside `lake run` (what `make local-run` runs) on the same dump, in
the same session, on one warm Spark Connect server and S3 server of its own.

Run: `.venv/bin/python benchmarks/airflow_run.py` (about 5 minutes). Prints the seconds
of each run, from the API's start and end dates, and the medallion's per-task seconds.
"""

import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from private_cluster import private_cluster  # noqa: E402

from airflow_api import AirflowApi  # noqa: E402
from lakehouse.settings import LakeSettings, environment_set  # noqa: E402
from laptop.airflow_local import USERNAME, LocalAirflow  # noqa: E402
from laptop.ports import free_port  # noqa: E402
from laptop.spark_connect_server import SparkConnectServer  # noqa: E402
from worker.ingest.raw_store import ensure_bucket, s3_client  # noqa: E402

PRODUCER, MEDALLION = "produce_data_assets", "stackexchange_medallion"


def seconds(item: dict) -> float:
    start, end = (datetime.fromisoformat(item[key]) for key in ("start_date", "end_date"))
    return (end - start).total_seconds()


def lake_run(settings: LakeSettings, work: Path) -> float:
    """`lake run` on the sample into the settings' bucket; its wall seconds."""
    started = time.monotonic()
    with environment_set(settings.environment()):
        subprocess.run(
            [str(Path(sys.executable).parent / "lake"), "run"],
            check=True,
            capture_output=True,
            cwd=work,
        )
    return time.monotonic() - started


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="airflow-run-"))
    settings, s3, port = private_cluster(work, "airflow-bench")
    spark = SparkConnectServer(settings, work / "spark", port=port)
    airflow = LocalAirflow(
        work / "airflow-home",
        port=free_port(),
        extra_env={
            "LAKE_AIRFLOW_PRODUCE_SCHEDULE": "none",
            "LAKE_AIRFLOW_RETRIES": "0",
            "LAKE_AIRFLOW_RUNS_DIR": str(work / "runs"),
            "LAKE_AIRFLOW_WORK_DIR": str(work / "work"),
            "LAKE_AIRFLOW_SAMPLE_DIR": str(work / "sample"),
        },
    )
    s3.start()
    spark.start()
    try:
        for bucket in (settings.bucket, "warm-up", "baseline"):
            ensure_bucket(s3_client(settings), bucket)
        # Warm the server's JIT with one run first, as a user's warm server would be.
        warm_up = lake_run(settings.model_copy(update={"bucket": "warm-up"}), work)
        print(f"warm-up lake run: {warm_up:.1f} s")
        started = time.monotonic()
        airflow.start(settings)
        api = AirflowApi(airflow.url, USERNAME, airflow.password())
        api.wait_for_dags([PRODUCER, MEDALLION])
        print(f"Airflow up and both DAGs parsed: {time.monotonic() - started:.1f} s")
        for dag_id in (PRODUCER, MEDALLION):
            api.unpause(dag_id)
        known = {run["dag_run_id"] for run in api.runs(MEDALLION)}
        triggered = time.monotonic()
        produce = api.wait_for_run(PRODUCER, api.trigger(PRODUCER, {"dumps": ["sample"]}))
        medallion_id = api.wait_for_new_run(MEDALLION, known)
        medallion = api.wait_for_run(MEDALLION, medallion_id)
        wall = time.monotonic() - triggered
        assert (produce["state"], medallion["state"]) == ("success", "success"), api.failure_report(
            MEDALLION, medallion_id
        )
        print(f"producer run: {seconds(produce):.1f} s")
        print(f"medallion run: {seconds(medallion):.1f} s")
        print(f"trigger to the medallion's end: {wall:.1f} s")
        for task in api.task_instances(MEDALLION, medallion_id):
            print(f"  {task['task_id']:28} {seconds(task):6.1f} s")
        baseline = lake_run(settings.model_copy(update={"bucket": "baseline"}), work)
        print(f"baseline, lake run on the same sample: {baseline:.1f} s")
    finally:
        airflow.stop()
        spark.stop()
        s3.stop()


if __name__ == "__main__":
    main()
