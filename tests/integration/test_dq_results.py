"""A data quality step with nothing to compute carries the counts of the site's last
checked dump to the new one (lakehouse.bronze.dq_results)."""

from datetime import datetime

from pyspark.sql import functions as F
from real_dump_helpers import lake_in_bucket

from lakehouse.bronze.dq_results import carried_dq_results, dq_results
from lakehouse.delta_merge import with_row_hash
from lakehouse.tables import DQ_RESULTS

SITE = "carried.example.com"
SCHEMA = (
    "site string, dump_id string, rule string, criticality string, function string, "
    "failed_rows bigint, checked_rows bigint, run_id string, run_time timestamp"
)


def test_a_new_dump_gets_every_rule_of_the_last_checked_dump_once(spark, settings, s3):
    """The last checked dump was checked twice, the second time after a new rule: the
    rules whose counts did not change kept the first run's id, and are carried too."""
    lake = lake_in_bucket(spark, settings, f"{settings.bucket}-carried")

    def counted(dump_id: str, rule: str, failed: int, run_id: str, day: int) -> tuple:
        return (SITE, dump_id, rule, "error", "f", failed, 10, run_id, datetime(2026, 1, day))

    rows = [
        counted("2025-12-31-aaaa", "a", 1, "r0", 1),
        counted("2025-12-31-aaaa", "b", 2, "r0", 1),
        counted("2026-03-31-bbbb", "a", 3, "r1", 2),
        counted("2026-03-31-bbbb", "b", 4, "r1", 2),
        counted("2026-03-31-bbbb", "c", 5, "r2", 3),  # the new rule, in a later run
    ]
    stored = spark.createDataFrame(rows, SCHEMA)
    lake.append(
        with_row_hash(stored, ["rule", "criticality", "failed_rows", "checked_rows"]), DQ_RESULTS
    )

    for _ in range(2):  # a retry carries nothing twice
        carried_dq_results(lake, SITE, "2026-06-30-cccc")
    carried = dq_results(lake, SITE, "2026-06-30-cccc").select("rule", "failed_rows", "run_id")
    assert sorted(carried.collect()) == [("a", 3, "r1"), ("b", 4, "r1"), ("c", 5, "r2")]
    assert lake.read(DQ_RESULTS).where(F.col("site") == SITE).count() == len(rows) + 3
