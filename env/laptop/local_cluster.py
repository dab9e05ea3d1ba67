"""The local cluster every runner is a client of: the S3 server, and one Spark Connect
server in front of it. Whatever is down is started; what runs stays up for the next
runner (`make stop` ends both)."""

import os
import sys

from lakehouse.settings import LakeSettings
from laptop.spark_connect_server import local_spark_server
from worker.s3_server import local_server

REMOTE_VARIABLE = "LAKE_SPARK_REMOTE"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def local_cluster(settings: LakeSettings, log=_log) -> LakeSettings:
    """Start the S3 server and, unless `spark_remote` names one already, the local Spark
    Connect server. Return the settings that reach them; kernels and tasks started from
    this process inherit the endpoint through LAKE_SPARK_REMOTE."""
    log(local_server(settings).start())
    return with_spark(settings, log)


def with_spark(settings: LakeSettings, log=_log) -> LakeSettings:
    """The Spark half of `local_cluster`, for a runner that learns only after its S3 work
    whether it needs Spark at all."""
    if not settings.spark_remote:
        server = local_spark_server(settings)
        log(server.start())
        settings = settings.model_copy(update={"spark_remote": server.url})
    os.environ[REMOTE_VARIABLE] = settings.spark_remote
    return settings
