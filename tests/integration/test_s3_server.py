"""The local S3 server: byte-identical storage through boto3 and S3A, standard clients,
persistence across restarts, and lifecycle by process id."""

import hashlib
import os
from urllib.parse import urlparse

import pytest

from worker.s3_server import server_for

BIG = os.urandom(9 * (1 << 20) + 12345)  # over the 8 MiB multipart threshold


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_boto3_multipart_upload_is_stored_byte_identical(s3, settings, lake_dir, tmp_path):
    from worker.ingest.raw_store import upload_file

    source = tmp_path / "big.bin"
    source.write_bytes(BIG)
    upload_file(s3, settings.bucket, "checks/boto3.bin", source)
    head = s3.head_object(Bucket=settings.bucket, Key="checks/boto3.bin")
    assert "-" in head["ETag"]  # a multipart ETag: the upload really was multipart
    assert sha256((lake_dir / settings.bucket / "checks" / "boto3.bin").read_bytes()) == sha256(BIG)
    body = s3.get_object(Bucket=settings.bucket, Key="checks/boto3.bin")["Body"].read()
    assert sha256(body) == sha256(BIG)


def test_s3a_multipart_upload_is_stored_byte_identical(spark, s3, settings, lake_dir):
    """Spark writes one text file through Hadoop's S3A, past S3A's 128 MiB multipart threshold."""
    lines = 2_200_000  # 64 bytes each: 141 MB
    spark.range(0, lines, 1, numPartitions=1).selectExpr(
        "lpad(CAST(id AS STRING), 63, '0') AS line"
    ).write.mode("overwrite").text(f"s3a://{settings.bucket}/checks/s3a")
    (stored,) = (lake_dir / settings.bucket / "checks" / "s3a").glob("part-*")
    key = f"checks/s3a/{stored.name}"
    assert "-" in s3.head_object(Bucket=settings.bucket, Key=key)["ETag"]  # multipart
    expected = b"".join(b"%063d\n" % number for number in range(lines))
    assert sha256(stored.read_bytes()) == sha256(expected)
    assert sha256(s3.get_object(Bucket=settings.bucket, Key=key)["Body"].read()) == sha256(expected)


def test_localstack_client_works_against_it(s3, settings, monkeypatch):
    import localstack_client.session

    endpoint = urlparse(settings.s3_endpoint)
    monkeypatch.setenv("LOCALSTACK_HOST", f"{endpoint.hostname}:{endpoint.port}")
    client = localstack_client.session.Session().client("s3")
    client.put_object(Bucket=settings.bucket, Key="checks/awslocal.txt", Body=b"hello")
    assert (
        s3.get_object(Bucket=settings.bucket, Key="checks/awslocal.txt")["Body"].read() == b"hello"
    )


def test_objects_survive_restart_and_sigkill(tmp_path):
    from lakehouse.settings import LakeSettings
    from laptop.ports import free_port
    from worker.ingest.raw_store import ensure_bucket, s3_client

    settings = LakeSettings(s3_endpoint=f"http://127.0.0.1:{free_port()}")
    server = server_for(settings, tmp_path / "data", tmp_path / "state")
    try:
        assert "started" in server.start()
        client = s3_client(settings)
        ensure_bucket(client, settings.bucket)
        client.put_object(Bucket=settings.bucket, Key="k", Body=b"kept")
        assert "stopped" in server.stop()
        assert server.status().startswith("stopped")
        server.start()
        client.put_object(Bucket=settings.bucket, Key="k2", Body=b"also kept")
        server.stop(kill=True)
        server.start()
        assert client.get_object(Bucket=settings.bucket, Key="k")["Body"].read() == b"kept"
        assert client.get_object(Bucket=settings.bucket, Key="k2")["Body"].read() == b"also kept"
        assert server.status().startswith("running: S3Proxy pid")
    finally:
        server.stop()
    assert server.running_pid() is None


def test_a_port_taken_by_something_else_is_named(tmp_path):
    import http.server
    import threading

    from lakehouse.settings import LakeSettings

    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        settings = LakeSettings(s3_endpoint=f"http://127.0.0.1:{other.server_address[1]}")
        server = server_for(settings, tmp_path / "d", tmp_path / "s")
        with pytest.raises(RuntimeError, match=f"Port {other.server_address[1]} is taken"):
            server.start()
    finally:
        other.shutdown()


def test_two_starts_at_once_start_one_server_that_stop_then_ends(tmp_path):
    """Two `lake s3 start` at the same instant, as real processes sharing one state dir."""
    import subprocess
    import sys

    from laptop.ports import free_port

    port = free_port()
    script = (
        "import sys; from pathlib import Path; from lakehouse.settings import LakeSettings; "
        "from worker.s3_server import server_for; "
        f"s = LakeSettings(s3_endpoint='http://127.0.0.1:{port}'); "
        f"data, state = Path({str(tmp_path / 'data')!r}), Path({str(tmp_path / 'state')!r}); "
        "print(server_for(s, data, state).start())"
    )
    starts = [
        subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    said = sorted(start.communicate(timeout=120)[0].strip() for start in starts)
    from lakehouse.settings import LakeSettings

    server = server_for(
        LakeSettings(s3_endpoint=f"http://127.0.0.1:{port}"), tmp_path / "data", tmp_path / "state"
    )
    try:
        pid = server.running_pid()
        assert pid is not None
        assert said[0] == f"S3Proxy already running (pid {pid}) on http://127.0.0.1:{port}"
        assert said[1].startswith(f"S3Proxy started (pid {pid}) on http://127.0.0.1:{port}")
        assert server.status().startswith(f"running: S3Proxy pid {pid}")
    finally:
        assert server.stop() == f"S3Proxy stopped (pid {pid})"
    assert not server.answers() and server.status().startswith("stopped")


def test_a_lake_folder_deleted_under_the_running_server_is_named(tmp_path):
    import shutil

    from lakehouse.settings import LakeSettings
    from laptop.ports import free_port
    from worker.ingest.raw_store import ensure_bucket, s3_client

    settings = LakeSettings(s3_endpoint=f"http://127.0.0.1:{free_port()}")
    server = server_for(settings, tmp_path / "data", tmp_path / "state")
    try:
        server.start()
        ensure_bucket(s3_client(settings), settings.bucket)
        shutil.rmtree(tmp_path / "data")
        with pytest.raises(RuntimeError) as failed:
            server.start()
        assert str(failed.value) == (
            f"The S3 server (pid {server.running_pid()}) fails: its lake folder "
            f"{tmp_path / 'data'} is gone. Restart it with `make s3-stop s3-start` (the lake "
            "starts empty)"
        )
    finally:
        server.stop()
