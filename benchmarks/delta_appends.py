"""Profile: what one Delta commit costs on a warm Spark Connect server of its own, and
what the commits that also write a checkpoint cost. Appends one row at a time to a new
table and prints the commits that took over a second, with their Spark jobs, beside
every twentieth; with `--read`, also what counting the table's rows costs after each
(a read rebuilds the snapshot from its last checkpoint and the commits since). A history
table (`bronze.step_runs`) takes commits like these.

A profile, not a benchmark: compare settings by running it with each. Run:
`.venv/bin/python benchmarks/delta_appends.py --commits 95`, and `--conf KEY=VALUE` to
start the server with another Spark setting.
"""

import argparse
import tempfile
import time
from pathlib import Path

from private_cluster import private_cluster
from step_jobs import ServerWith, finished_jobs  # puts tests/ on the path

from conftest import SESSION_SERVER_JVM
from worker.ingest.raw_store import ensure_bucket, s3_client
from worker.spark_session import build_local_session


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=95)
    parser.add_argument("--conf", action="append", default=[], help="KEY=VALUE for the server")
    parser.add_argument("--read", action="store_true", help="time a count after each commit")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="delta-appends-"))
    settings, s3, port = private_cluster(work, "appends", spark_java_options=SESSION_SERVER_JVM)
    server = ServerWith(settings, work / "spark", port=port, extra_conf=tuple(args.conf))
    s3.start()
    server.start()
    try:
        ensure_bucket(s3_client(settings), settings.bucket)
        spark = build_local_session(settings)

        row = spark.range(1).selectExpr("id", "'a step' AS step")
        table = f"s3a://{settings.bucket}/history"
        for commit in range(args.commits):
            before, started = finished_jobs(server), time.monotonic()
            row.write.format("delta").mode("append").save(table)
            seconds = time.monotonic() - started
            read = ""
            if args.read:
                started = time.monotonic()
                spark.read.format("delta").load(table).count()
                read = f"; then a count {time.monotonic() - started:.2f} s"
            time.sleep(0.3)  # the server logs a job's end after answering
            if seconds > 1 or commit % 20 == 0 or (args.read and commit % 10 == 9):
                jobs = finished_jobs(server) - before
                print(f"commit {commit}: {seconds:.2f} s, {jobs} Spark jobs{read}")
    finally:
        server.stop()
        s3.stop()


if __name__ == "__main__":
    main()
