"""What a notebook needs to start: the Spark session of its target and the lake.

On Databricks the runtime's session is already active and is used as it is; locally
the session factory in env/ builds one against the local S3 server.
"""


def spark_session(settings):
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    from localenv.spark_session import build_local_session

    return build_local_session(settings)


def open_lake(settings=None):
    """The lake of the configured target; `lake.sql(...)` takes logical table names."""
    from lakehouse.lake import Lake
    from lakehouse.settings import LakeSettings

    settings = settings or LakeSettings()
    return Lake(spark_session(settings), settings)
