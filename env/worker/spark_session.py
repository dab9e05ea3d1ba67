"""The local Spark session: Delta Lake over S3A against the local S3 server.

This is the only place that builds a SparkSession; on Databricks the runtime's own
session is used instead (lakehouse.target.LakeTarget.spark_session).
"""

import os
import sys
import tempfile

from lakehouse.schemas import DUMP_TABLES
from lakehouse.settings import LakeSettings
from lakehouse.target import resolve
from worker.jars import spark_jars
from worker.java import require_supported_java

# Every Spark Connect session this process opens, kept until the process ends. pyspark
# 4.0's session finalizer shuts down the one thread pool all of a process's sessions
# share; run by the garbage collector inside another session's query, it deadlocked that
# query (a suite run hung in `isEmpty`; apache/spark#54189 fixes it after 4.0.5). A kept
# session is never collected mid-run.
_OPENED_SESSIONS: list = []


def connect_session(remote: str, new: bool = False):
    """A client session of the Spark Connect server at `remote`: the process's current
    one, or with `new` one of its own. Every session comes through here, and is kept."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.remote(remote)
    session = builder.create() if new else builder.getOrCreate()
    if not any(session is kept for kept in _OPENED_SESSIONS):
        try:
            require_same_spark_line(session, remote)
        except SparkLineMismatch:
            session.stop()
            raise
        _OPENED_SESSIONS.append(session)
    return session


class SparkLineMismatch(RuntimeError):
    """The server runs another Spark feature line than this client's PySpark."""


def require_same_spark_line(session, remote: str) -> None:
    """A client of another Spark line than its server's fails late and obscurely (plans
    and functions differ between feature releases): refuse it at once, in one line."""
    import pyspark

    server, client = session.version, pyspark.__version__
    line = ".".join(client.split(".")[:2])
    if server.split(".")[:2] != client.split(".")[:2]:
        raise SparkLineMismatch(
            f"the Spark Connect server at {remote} runs Spark {server}, and this runner's "
            f"PySpark is {client}: run a Spark {line} server there (here: `make spark-stop "
            "spark-start`), or unset LAKE_SPARK_REMOTE"
        )


LONG_TEXTS = ("body", "title", "text", "about_me")


def session_conf(settings: LakeSettings) -> dict[str, str]:
    """The local Spark's settings: Delta, S3A to the local S3 server, loopback only, small
    shuffles. The in-process session and the Spark Connect server both start from it."""
    conf = {
        "spark.master": f"local[{settings.spark_cores}]",
        "spark.jars": ",".join(str(path) for path in spark_jars()),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.warehouse.dir": tempfile.mkdtemp(prefix="spark-warehouse-"),
        "spark.driver.memory": settings.spark_driver_memory,
        # Keep Spark's own traffic on loopback, whatever the machine's hostname resolves to.
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.shuffle.partitions": str(settings.spark_cores * 4),
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # Small tables: rebuilding a Delta snapshot does not need 50 tasks.
        "spark.databricks.delta.snapshotPartitions": str(settings.spark_cores * 2),
        # VACUUM lists a table's files in this many tasks (default 10,000: 90 s on 2 cores).
        "spark.sql.sources.parallelPartitionDiscovery.parallelism": str(settings.spark_cores * 4),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
        # The dumps' long texts are nearly all unique: a Parquet dictionary for them never
        # pays, and trying one first cost about 3% of a bronze write (docs/benchmarks-history.md).
        **{f"spark.hadoop.parquet.enable.dictionary#{column}": "false" for column in LONG_TEXTS},
        # Timestamps as Parquet's INT64 microseconds, not Spark's legacy default INT96: a
        # 12-byte value costs a dictionary lookup on every write, and the dumps' dates are
        # nearly all unique (1.07x the bronze step at 1 GB: BENCHMARKS.md).
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        # A warm server runs the same query shapes for every site: Spark's default keeps
        # 100 compiled classes and compiles the rest again. 4000 holds a full test suite's;
        # each keeps its generated source on the heap (BENCHMARKS.md).
        "spark.sql.codegen.cache.maxEntries": "4000",
        # A write to several partitions at once (a refresh's lineage: one per bronze table)
        # keeps a Parquet writer open for each instead of sorting its rows by partition
        # first (SPARK-26164; past this many writers a task sorts the rest). The lineage's
        # writes took 0.94x the time (BENCHMARKS.md).
        "spark.sql.maxConcurrentOutputFileWriters": str(len(DUMP_TABLES)),
        # The history tables take a commit per step: a checkpoint (a Spark job, then read
        # back) every 30 commits, not 10; new tables only (BENCHMARKS.md).
        "spark.databricks.delta.properties.defaults.checkpointInterval": "30",
        **resolve(settings).s3.s3a(),
    }
    if settings.spark_java_options:
        conf["spark.driver.extraJavaOptions"] = settings.spark_java_options
    return conf


def build_local_session(settings: LakeSettings | None = None, app_name: str = "stackexchange"):
    """Return a Delta-enabled local SparkSession wired to the local S3 server, or with
    LAKE_SPARK_REMOTE a client session of that Spark Connect server."""
    from pyspark.sql import SparkSession

    settings = settings or LakeSettings()
    if settings.spark_remote:  # A Spark Connect server does the work; no JVM here.
        return connect_session(settings.spark_remote)
    require_supported_java()
    # A parent process that was a Spark Connect client leaves PySpark's connect-mode flag
    # in the environment, and with it PySpark refuses to build an in-process session.
    os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)
    # Python workers must use this interpreter, which has pyarrow and lxml.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.appName(app_name)
    for key, value in session_conf(settings).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def remote_of_session(remote: str, session_id: str) -> str:
    """The Spark Connect URL `remote` that joins the session `session_id`: a runner that
    names its kernel's session can stop that session's work on the server later."""
    if "/;" in remote:  # Already has parameters (a token, a user id): add one.
        return f"{remote};session_id={session_id}"
    return f"{remote.rstrip('/')}/;session_id={session_id}"


def interrupt_session(remote: str) -> list[str]:
    """Interrupt everything the session of `remote` (with its session_id) runs on the
    server, then release the session; the ids of the operations interrupted. A client
    killed mid-query leaves its query running on the server: Ctrl-C must end both."""
    session = connect_session(remote, new=True)
    try:
        return session.interruptAll()
    finally:
        session.stop()
