"""Data quality on bronze posts: the checks in quality/checks/bronze_posts.yml decide
which posts go on to silver (`bronze.posts_valid`, warnings attached) and which wait in
`bronze.posts_quarantine` with the rules they failed. `bronze.dq_results` keeps the
per-rule counts of each dump's check run."""

from datetime import datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.bronze.dq_results import KEYS, dq_results
from lakehouse.delta_merge import (
    ROW_HASH,
    Slice,
    counted,
    observed_rows,
    sync,
    upsert,
    with_row_hash,
)
from lakehouse.lake import Lake
from lakehouse.quality.dqx_local import (
    CHECKS_DIR,
    ERRORS,
    WARNINGS,
    apply_checks,
    load_checks,
    split,
    summarize,
)
from lakehouse.tables import (
    BRONZE_POSTS,
    BRONZE_USERS,
    DQ_RESULTS,
    POSTS_QUARANTINE,
    POSTS_VALID,
)

CHECKS_FILE = CHECKS_DIR / "bronze_posts.yml"


def _rule_names(column: str) -> Column:
    return F.transform(F.coalesce(F.col(column), F.array()), lambda result: result["name"])


def check_bronze_posts(
    lake: Lake, site: str, dump_id: str, run_id: str, run_time: datetime
) -> DataFrame:
    """Check one site's bronze posts, route them, and return the per-rule summary."""
    checks = load_checks(CHECKS_FILE)
    # Inputs pinned to one version each: the checks are evaluated once per write below,
    # and every evaluation sees the same rows whatever another run commits meanwhile.
    posts = pinned_site_rows(lake, BRONZE_POSTS, site)
    users = pinned_site_rows(lake, BRONZE_USERS, site)
    checked = apply_checks(
        posts, checks, run_id=run_id, run_time=run_time, ref_dfs={"users": users}
    )
    # The hash covers the bronze row and the names of the rules it failed, not the run's
    # time, so checking the same data again changes nothing.
    checked = checked.withColumn("_error_rules", _rule_names(ERRORS)).withColumn(
        "_warning_rules", _rule_names(WARNINGS)
    )
    checked = with_row_hash(checked, [ROW_HASH, "_error_rules", "_warning_rules"]).drop(
        "_error_rules", "_warning_rules"
    )
    # Counted while the valid rows are written: a site with nothing to quarantine then
    # costs the quarantine no write and no job.
    checked, errors = counted(checked, F.col(ERRORS).isNotNull())
    valid, quarantined = split(checked)
    sync(lake, valid, Slice(POSTS_VALID, ["site", "id"], {"site": site}))
    quarantine = Slice(
        POSTS_QUARANTINE, ["site", "id"], {"site": site}, expected_rows=observed_rows(errors)
    )
    sync(lake, quarantined, quarantine)

    summary = summarize(checked, checks).select(
        F.lit(site).alias("site"),
        F.lit(dump_id).alias("dump_id"),
        "*",
        F.lit(run_id).alias("run_id"),
        F.lit(run_time).cast("timestamp").alias("run_time"),
    )
    summary = with_row_hash(summary, ["rule", "criticality", "failed_rows", "checked_rows"])
    upsert(lake, summary, DQ_RESULTS, KEYS)
    return dq_results(lake, site, dump_id)


def pinned_site_rows(lake: Lake, name: str, site: str) -> DataFrame:
    """The site's rows of a table as its current commit holds them, whatever commits later."""
    return lake.read(name, version=lake.current_version(name)).where(F.col("site") == site)
