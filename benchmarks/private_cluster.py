"""A benchmark's own S3 server and Spark Connect settings: free ports, a throwaway folder,
never the user's lake."""

from pathlib import Path

from lakehouse.settings import LakeSettings
from laptop.ports import free_port
from worker.s3_server import S3Server, server_for


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
