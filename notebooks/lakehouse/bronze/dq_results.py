"""`bronze.dq_results`: the per-rule counts of each dump's check run on a site's posts
(lakehouse.bronze.posts_quality writes them). Without DQX, which takes seconds to import:
a data quality step with nothing to compute only reads them."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.lake import Lake
from lakehouse.tables import DQ_RESULTS


def dq_results(lake: Lake, site: str, dump_id: str) -> DataFrame:
    """The per-rule counts of the check run on the site's dump."""
    return lake.read(DQ_RESULTS).where((F.col("site") == site) & (F.col("dump_id") == dump_id))


def carried_dq_results(lake: Lake, site: str, dump_id: str) -> DataFrame:
    """`dq_results`, for a step with nothing to compute. A new dump whose posts and users
    are those the site's last check run saw (a quiet quarter) gets that run's counts,
    recorded under its id as well, with that run's id and time."""
    results = dq_results(lake, site, dump_id)
    if results.isEmpty():
        checked = lake.read(DQ_RESULTS).where(F.col("site") == site)
        last_run = checked.orderBy(F.col("run_time").desc()).select("run_id").limit(1)
        # Every dump the run's counts were carried to holds the same rows: keep one each.
        carried = checked.join(last_run, "run_id").dropDuplicates(["rule"])
        lake.append(
            carried.withColumn("dump_id", F.lit(dump_id)).select(*checked.columns), DQ_RESULTS
        )
    return results
