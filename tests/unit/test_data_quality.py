"""Every rule in bronze_posts.yml, on rows made to break exactly that rule."""

from datetime import UTC, datetime, timedelta

import pytest
from databricks.labs.dqx.engine import DQEngine

from lakehouse.bronze.posts_quality import CHECKS_FILE
from lakehouse.quality.dqx_local import apply_checks, load_checks, split, summarize

NOW = datetime.now(UTC)
GOOD_QUESTION = dict(
    site="s",
    id=1,
    post_type_id=1,
    parent_id=None,
    title="Why?",
    creation_date=NOW - timedelta(days=1),
    score=3,
    owner_user_id=10,
)
SCHEMA = (
    "site string, id bigint, post_type_id int, parent_id bigint, title string, "
    "creation_date timestamp, score int, owner_user_id bigint"
)


@pytest.fixture(scope="module")
def checks():
    return load_checks(CHECKS_FILE)


def check_rows(spark, checks, rows):
    df = spark.createDataFrame([{**GOOD_QUESTION, **row} for row in rows], SCHEMA)
    users = spark.createDataFrame([("s", 10)], "site string, id bigint")
    checked = apply_checks(df, checks, run_id="t", run_time=NOW, ref_dfs={"users": users})
    return {r["id"]: r for r in checked.collect()}, checked


def failed(row, column="_errors"):
    return sorted(result["name"] for result in (row[column] or []))


def test_the_checks_file_passes_dqx_validation(checks):
    assert not DQEngine.validate_checks(checks).has_errors
    assert {c["criticality"] for c in checks} == {"error", "warn"}
    assert len(checks) >= 9


@pytest.mark.parametrize(
    ("row", "rule"),
    [
        ({"id": None}, "id_is_not_null"),
        ({"post_type_id": 11}, "post_type_id_is_known"),
        ({"post_type_id": None}, "post_type_id_is_known"),
        ({"creation_date": None}, "creation_date_parses"),
        ({"creation_date": NOW + timedelta(days=30)}, "creation_date_is_not_in_future"),
        ({"post_type_id": 2, "title": None, "parent_id": None}, "answer_has_parent_id"),
        ({"title": "  "}, "question_has_title"),
        ({"score": None}, "score_is_integer"),
    ],
)
def test_each_error_rule_catches_its_case(spark, checks, row, rule):
    rows, _ = check_rows(spark, checks, [{"id": 2}, {"id": 3, **row}])
    bad = next(r for r in rows.values() if r["id"] != 2)
    assert failed(bad) == [rule]
    assert rows[2]["_errors"] is None


def test_duplicate_ids_fail_uniqueness(spark, checks):
    _, checked = check_rows(spark, checks, [{"id": 5}, {"id": 5}, {"id": 6}])
    names = [failed(r) for r in checked.orderBy("id").collect()]
    assert names == [["id_is_unique"], ["id_is_unique"], []]


def test_unknown_owner_is_a_warning_and_still_passes(spark, checks):
    rows, checked = check_rows(spark, checks, [{"id": 1, "owner_user_id": 999}])
    assert rows[1]["_errors"] is None
    assert failed(rows[1], "_warnings") == ["owner_user_id_is_known_user"]
    valid, quarantined = split(checked)
    assert valid.count() == 1 and quarantined.count() == 0
    assert "_warnings" in valid.columns


def test_summary_counts_failures_per_rule(spark, checks):
    _, checked = check_rows(
        spark, checks, [{"id": 1}, {"id": 2, "score": None}, {"id": 3, "score": None}]
    )
    summary = {r["rule"]: r for r in summarize(checked, checks).collect()}
    assert summary["score_is_integer"]["failed_rows"] == 2
    assert summary["id_is_not_null"]["failed_rows"] == 0
    assert summary["score_is_integer"]["checked_rows"] == 3
