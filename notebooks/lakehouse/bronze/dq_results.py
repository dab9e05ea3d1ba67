"""`bronze.dq_results`: the per-rule counts of each dump's check run on a site's posts
(lakehouse.bronze.posts_quality writes them). Without DQX, which takes seconds to import:
a data quality step with nothing to compute only reads them."""

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.delta_merge import upsert
from lakehouse.lake import Lake
from lakehouse.tables import DQ_RESULTS

KEYS = ["site", "dump_id", "rule"]


def dq_results(lake: Lake, site: str, dump_id: str) -> DataFrame:
    """The per-rule counts of the check run on the site's dump."""
    return lake.read(DQ_RESULTS).where((F.col("site") == site) & (F.col("dump_id") == dump_id))


def carried_dq_results(lake: Lake, site: str, dump_id: str) -> DataFrame:
    """`dq_results`, for a step with nothing to compute. A new dump whose posts and users
    are those of the site's last checked dump (a quiet quarter) gets that dump's counts,
    recorded under its id as well, each with the id and time of the run that counted it."""
    results = dq_results(lake, site, dump_id)
    if results.isEmpty():
        checked = lake.read(DQ_RESULTS).where(F.col("site") == site)
        # The dump checked last: a check of the same dump again updates only the rules
        # whose counts changed, so one dump's rows may name several runs.
        by_dump = Window.partitionBy("dump_id")
        newest = checked.withColumn("_last_run", F.max("run_time").over(by_dump))
        last_dump = newest.orderBy(F.desc("_last_run"), F.desc("dump_id")).select("dump_id")
        carried = checked.join(last_dump.limit(1), "dump_id").withColumn("dump_id", F.lit(dump_id))
        upsert(lake, carried.select(*checked.columns), DQ_RESULTS, KEYS)
    return results
