"""The local cluster: a Spark Connect server with Delta over the test S3 server, reached
only through its URL, started and stopped by process id."""

import http.server
import os
import sys
import threading

import pytest

from lakehouse.settings import LakeSettings
from laptop.ports import free_port
from laptop.spark_connect_server import SparkConnectServer
from worker.databricks_compute import pinned_versions
from worker.paths import DATABRICKS_PYTHON, DATABRICKS_RUNTIME_FILE


@pytest.fixture(scope="module")
def server(settings, s3, tmp_path_factory):
    server = SparkConnectServer(settings, tmp_path_factory.mktemp("connect"), port=free_port())
    said = server.start()
    yield server, said
    server.stop()
    assert server.process.running_pid() is None


def test_it_starts_once_and_a_client_writes_and_reads_delta_through_it(server, settings):
    from worker.spark_session import connect_session

    server, said = server
    pid = server.process.running_pid()
    assert said == f"Spark Connect started (pid {pid}) on {server.url}"
    assert server.start() == f"Spark Connect already running (pid {pid}) on {server.url}"
    assert server.status() == f"running: Spark Connect pid {pid} on {server.url}"

    client = connect_session(server.url, new=True)
    location = f"s3a://{settings.bucket}/bronze/connect_check"
    client.range(5).selectExpr("id", "id * 2 AS twice").write.format("delta").mode(
        "overwrite"
    ).save(location)
    client.sql(
        f"MERGE INTO delta.`{location}` AS t USING (SELECT 1 AS id, 0 AS twice) AS s "
        "ON t.id = s.id WHEN MATCHED THEN UPDATE SET * "
        "WHEN NOT MATCHED BY SOURCE AND t.id > 3 THEN DELETE"
    )
    rows = {r.id: r.twice for r in client.read.format("delta").load(location).collect()}
    assert rows == {0: 0, 1: 0, 2: 4, 3: 6}
    client.stop()


def test_a_port_taken_by_another_process_is_named_not_used(settings, tmp_path):
    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        taken = SparkConnectServer(settings, tmp_path, port=other.server_address[1])
        with pytest.raises(RuntimeError, match=f"Port {other.server_address[1]} is taken"):
            taken.start()
    finally:
        other.shutdown()


def test_open_lake_runs_on_the_server_named_by_lake_spark_remote(spark_server, s3, settings):
    """The session's own server, as every runner reaches it: through LAKE_SPARK_REMOTE."""
    from lakehouse.runtime import open_lake

    assert os.environ["LAKE_SPARK_REMOTE"] == spark_server.url
    lake = open_lake(LakeSettings(bucket=settings.bucket))
    assert type(lake.spark).__module__.startswith("pyspark.sql.connect")
    lake.spark.range(3).write.format("delta").mode("overwrite").save(
        lake.location("bronze.remote_check")
    )
    listed = s3.list_objects_v2(Bucket=settings.bucket, Prefix="bronze/remote_check/_delta_log/")
    assert listed["KeyCount"] > 0
    assert lake.sql("SELECT count(*) AS n FROM bronze.remote_check").first()["n"] == 3


@pytest.mark.parametrize(
    ("other", "refusal"),
    [
        (
            {"s3_endpoint": "http://127.0.0.1:1"},
            r"reads the S3 server at http://127\.0\.0\.1:\d+, not ",
        ),
        (
            {"job_python": "/opt/other/python"},
            r"runs its Python workers in .+, not /opt/other/python",
        ),
    ],
)
def test_a_server_is_not_reused_for_another_lake_or_workers_python(
    server, settings, other, refusal
):
    server, _ = server
    elsewhere = SparkConnectServer(
        settings.model_copy(update=other), server.state_dir, port=server.port
    )
    with pytest.raises(RuntimeError, match=refusal):
        elsewhere.start()


def test_lake_sql_reads_each_lakes_own_table_on_one_server(lake, settings, s3):
    """Two lakes (buckets) through one Spark Connect server: each query reads its own
    lake's table, whichever lake named it first."""
    from lakehouse.lake import Lake
    from worker.ingest.raw_store import ensure_bucket

    other = Lake(lake.spark, settings.model_copy(update={"bucket": f"{settings.bucket}-other"}))
    ensure_bucket(s3, other.settings.bucket)
    for number, each in enumerate((lake, other), start=1):
        rows = lake.spark.range(1).selectExpr(f"{number} AS lake_number")
        rows.write.format("delta").mode("overwrite").save(each.location("gold.which_lake"))
    query = "SELECT lake_number FROM gold.which_lake"
    answers = [each.sql(query).first()["lake_number"] for each in (lake, other, lake)]
    assert answers == [1, 2, 1]


def test_a_session_dropped_mid_run_cannot_deadlock_another_sessions_query(spark_server):
    """pyspark 4.0's session finalizer shuts down the thread pool every session shares. The
    garbage collector ran it for a dropped session (one with a reference cycle, as
    `catalog` makes) while another session's query held that pool's lock, and the query
    waited forever. That moment is made here on purpose, in a child process that must end."""
    import subprocess
    import sys

    script = (
        "import gc\n"
        "from pyspark.sql.connect.client.reattach import "
        "ExecutePlanResponseReattachableIterator as Responses\n"
        "from worker.spark_session import connect_session\n"
        f"dropped = connect_session({spark_server.url!r}, new=True)\n"
        "dropped.catalog.currentCatalog()\n"
        "dropped.stop()\n"
        "del dropped\n"
        "with Responses._get_or_create_release_thread_pool()._shutdown_lock:\n"
        "    gc.collect()\n"
    )
    child = subprocess.run([sys.executable, "-c", script], timeout=60, capture_output=True)
    assert child.returncode == 0, child.stderr.decode()[-2000:]


def test_a_killed_clients_query_is_stopped_on_the_server(spark_server, tmp_path):
    """What Ctrl-C of `make local-run` does after killing its kernel: the kernel's query
    would otherwise go on running, and writing, on the shared server."""
    import subprocess
    import sys
    import time
    import uuid

    from worker.spark_session import interrupt_session, remote_of_session

    session_id = str(uuid.uuid4())
    remote = remote_of_session(spark_server.url, session_id)
    started = tmp_path / "started"
    script = (
        "import pathlib\n"
        "from pyspark.sql import SparkSession\n"
        f"spark = SparkSession.builder.remote({remote!r}).getOrCreate()\n"
        f"pathlib.Path({str(started)!r}).touch()\n"
        "spark.range(0, 50_000_000_000).selectExpr('sum(id * 7 % 13)').collect()\n"
    )
    client = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 120
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # the query is on the server by now
        assert client.poll() is None, "the long query ended by itself"
    finally:
        client.kill()
        client.wait()
    interrupted = interrupt_session(remote)
    assert len(interrupted) == 1
    tag = f"Session_{session_id}_Operation_{interrupted[0]}"

    def cancelled() -> bool:
        log = spark_server.log_file.read_text(errors="replace")
        return any("SPARK_JOB_CANCELLED" in line and tag in line for line in log.splitlines())

    deadline = time.monotonic() + 30
    while not cancelled() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert cancelled(), "the server did not cancel the killed client's job"


def worker_libraries(session) -> dict[str, str]:
    """The interpreter and the library versions a Python worker of the session's server
    runs (a nested function: cloudpickle sends it by value, not by this module's name)."""

    def versions(batches):
        import sys

        import numpy
        import pandas
        import pyarrow

        found = {
            "python": sys.executable,
            "pandas": pandas.__version__,
            "pyarrow": pyarrow.__version__,
            "numpy": numpy.__version__,
        }
        for _ in batches:
            yield pandas.DataFrame({"name": list(found), "version": list(found.values())})

    rows = session.range(1).mapInPandas(versions, "name string, version string").collect()
    return {row["name"]: row["version"] for row in rows}


def test_the_laptops_server_runs_workers_in_the_laptops_python(server):
    import numpy
    import pandas
    import pyarrow

    from worker.spark_session import connect_session

    client = connect_session(server[0].url, new=True)
    try:
        found = worker_libraries(client)
    finally:
        client.stop()
    expected = [sys.executable, pandas.__version__, pyarrow.__version__, numpy.__version__]
    assert list(found.values()) == expected


def test_the_tests_server_runs_workers_with_the_databricks_runtimes_libraries(spark):
    """The code in Spark's workers (the bronze parse, the text UDFs) runs here under the
    libraries production's runtime ships, whatever the laptop's environment holds."""
    runtime = pinned_versions(DATABRICKS_RUNTIME_FILE)
    found = worker_libraries(spark)
    assert found == {
        "python": str(DATABRICKS_PYTHON),
        **{name: runtime[name] for name in ("pandas", "pyarrow", "numpy")},
    }


def test_a_server_of_another_spark_line_is_refused_in_one_line(spark_server, monkeypatch):
    """The server reports Spark 4.0.5, as a 4.0 server would, to this 4.1 client."""
    import pyspark
    from pyspark.sql.connect.session import SparkSession

    from worker.spark_session import connect_session

    monkeypatch.setattr(SparkSession, "version", property(lambda session: "4.0.5"))
    with pytest.raises(RuntimeError) as refused:
        connect_session(spark_server.url, new=True)
    said = str(refused.value)
    assert "\n" not in said
    assert f"runs Spark 4.0.5, and this runner's PySpark is {pyspark.__version__}" in said
    # Another release of the same line is served: 4.1.0 to a 4.1.x client.
    monkeypatch.setattr(SparkSession, "version", property(lambda session: "4.1.0"))
    connect_session(spark_server.url, new=True).stop()
