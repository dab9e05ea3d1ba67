"""Apply DQX checks on open-source Spark.

DQX's `DQEngine` probes a Databricks workspace when it is built and hangs without one,
but its checks loader, validator, check functions and per-rule manager run on plain
PySpark. This module is the small loop the engine would run around them, with DQX's
result columns `_errors` and `_warnings`.
"""

from datetime import datetime
from pathlib import Path
from typing import Any

from databricks.labs.dqx.checks_serializer import deserialize_checks
from databricks.labs.dqx.engine import DQEngine, DQEngineCore
from databricks.labs.dqx.manager import DQRuleManager
from databricks.labs.dqx.schema.dq_result_schema import dq_result_schema
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

ERRORS, WARNINGS = "_errors", "_warnings"
CHECKS_DIR = Path(__file__).parent / "checks"


class InvalidChecks(ValueError):
    """A checks file that DQX refuses; the message names the file and the check."""

    pass


def load_checks(path: Path) -> list[dict[str, Any]]:
    """The checks in a YAML file, after DQX's own validation."""
    checks = DQEngineCore.load_checks_from_local_file(str(path))
    status = DQEngine.validate_checks(checks)
    if status.has_errors:
        raise InvalidChecks(f"{path}: {status}")
    return checks


def _results(conditions: list[Column]) -> Column:
    if not conditions:
        return F.lit(None).cast(dq_result_schema)
    failed = F.array_compact(F.array(*conditions))
    return F.when(F.size(failed) > 0, failed).otherwise(F.lit(None).cast(dq_result_schema))


def apply_checks(
    df: DataFrame,
    checks: list[dict[str, Any]],
    *,
    run_id: str,
    run_time: datetime,
    ref_dfs: dict[str, DataFrame] | None = None,
) -> DataFrame:
    """`df` with DQX's `_errors` and `_warnings` arrays (null when a row passes)."""
    spark = df.sparkSession
    conditions: dict[str, list[Column]] = {"error": [], "warn": []}
    checked = df
    for rule in deserialize_checks(checks):
        manager = DQRuleManager(
            check=rule,
            df=checked,
            spark=spark,
            engine_user_metadata={},
            run_time_overwrite=run_time,
            run_id=run_id,
            ref_dfs=ref_dfs,
            input_df=df,
        )
        result = manager.process(checked)
        conditions[rule.criticality].append(result.condition)
        checked = result.check_df
    checked = checked.withColumn(ERRORS, _results(conditions["error"])).withColumn(
        WARNINGS, _results(conditions["warn"])
    )
    return checked.select(*df.columns, ERRORS, WARNINGS)


def split(checked: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(valid rows, still carrying `_warnings`; quarantined rows, with both arrays)."""
    valid = checked.where(F.col(ERRORS).isNull()).drop(ERRORS)
    quarantined = checked.where(F.col(ERRORS).isNotNull())
    return valid, quarantined


def _failed_count(check: dict[str, Any]) -> Column:
    results = F.col(ERRORS if check["criticality"] == "error" else WARNINGS)
    name = F.lit(check["name"])
    failed = F.exists(F.coalesce(results, F.array()), lambda result: result["name"] == name)
    return F.sum(failed.cast("int"))


def summarize(checked: DataFrame, checks: list[dict[str, Any]]) -> DataFrame:
    """One row per rule: how many rows it failed, out of how many checked."""
    total = F.count(F.lit(1))
    failures = [_failed_count(check).alias(check["name"]) for check in checks]
    totals = checked.agg(total.alias("_checked"), *failures).first()
    assert totals is not None  # An aggregate without grouping has one row.
    counts = totals.asDict()
    rows = [
        (
            check["name"],
            check["criticality"],
            check["check"]["function"],
            counts[check["name"]] or 0,
            counts["_checked"],
        )
        for check in checks
    ]
    return checked.sparkSession.createDataFrame(
        rows,
        "rule string, criticality string, function string, failed_rows bigint, checked_rows bigint",
    )
