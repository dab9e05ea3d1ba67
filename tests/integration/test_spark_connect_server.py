"""The local cluster: a Spark Connect server with Delta over the test S3 server, reached
only through its URL, started and stopped by process id."""

import http.server
import threading

import pytest

from localenv.ports import free_port
from localenv.spark_connect_server import SparkConnectServer


@pytest.fixture(scope="module")
def server(settings, s3, tmp_path_factory):
    server = SparkConnectServer(settings, tmp_path_factory.mktemp("connect"), port=free_port())
    said = server.start()
    yield server, said
    server.stop()
    assert server.process.running_pid() is None


def test_it_starts_once_and_a_client_writes_and_reads_delta_through_it(server, settings):
    from pyspark.sql import SparkSession

    server, said = server
    pid = server.process.running_pid()
    assert said == f"Spark Connect started (pid {pid}) on {server.url}"
    assert server.start() == f"Spark Connect already running (pid {pid}) on {server.url}"
    assert server.status() == f"running: Spark Connect pid {pid} on {server.url}"

    client = SparkSession.builder.remote(server.url).create()
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


def test_open_lake_runs_on_the_server_named_by_lake_spark_remote(server, settings):
    from lakehouse.runtime import open_lake

    server, _ = server
    lake = open_lake(settings.model_copy(update={"spark_remote": server.url}))
    assert type(lake.spark).__module__.startswith("pyspark.sql.connect")
    lake.spark.range(3).write.format("delta").mode("overwrite").save(
        lake.location("bronze.remote_check")
    )
    assert lake.exists("bronze.remote_check")
    assert lake.sql("SELECT count(*) AS n FROM bronze.remote_check").first()["n"] == 3
    lake.spark.stop()
