"""A benchmark's own S3 server and Spark Connect settings: free ports, a throwaway folder,
never the user's lake."""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse.settings import LakeSettings
from laptop.ports import free_port
from laptop.spark_connect_server import SparkConnectServer
from worker.ingest.raw_store import ensure_bucket, s3_client
from worker.s3_server import S3Server, server_for
from worker.spark_session import build_local_session


def private_cluster(work: Path, bucket: str, **settings) -> tuple[LakeSettings, S3Server, int]:
    """Settings for a lake in `bucket` on an S3 server under `work`, the S3 server (not
    started), and the port its Spark Connect server is to take."""
    spark_port = free_port()
    lake_settings = LakeSettings(
        s3_endpoint=f"http://127.0.0.1:{free_port()}",
        bucket=bucket,
        spark_remote=f"sc://127.0.0.1:{spark_port}",
        **settings,
    )
    return lake_settings, server_for(lake_settings, work / "lake", work / "s3"), spark_port


@contextmanager
def private_spark(prefix: str, bucket: str) -> Iterator[tuple[LakeSettings, SparkSession, Path]]:
    """A private S3 server with `bucket` and a Spark Connect server, in a throwaway folder
    named by `prefix`, while the block runs: the lake's settings, a client session of the
    server, and the folder. Both servers are stopped after."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    settings, s3, port = private_cluster(work, bucket)
    server = SparkConnectServer(settings, work / "spark", port=port)
    s3.start()
    server.start()
    try:
        ensure_bucket(s3_client(settings), settings.bucket)
        yield settings, build_local_session(settings), work
    finally:
        server.stop()
        s3.stop()
