"""The keys a step records, and when they tell it that it has nothing to do."""

import shutil
from datetime import datetime, timedelta

from lakehouse.lake import Lake
from lakehouse.settings import LakeSettings
from lakehouse.step_runs import PACKAGE, KeysSeen, code_digest, inputs_key, latest_keys
from lakehouse.steps import PIPELINE, STEP_DECLARATIONS

CODE = "code-v1"


def keys_of_a_full_run(dump_id: str, code: str = CODE) -> dict[str, str | None]:
    """What every step records after a run of the whole graph on `dump_id`."""
    recorded: dict[str, str | None] = {}
    for task in PIPELINE:  # PIPELINE lists every dependency before its dependants.
        recorded[task.name] = inputs_key(task, dump_id, recorded, code)
    return recorded


def test_every_step_gets_a_key_in_a_full_run():
    assert None not in keys_of_a_full_run("2024-03-31-aaaa").values()


def test_a_new_dump_changes_every_key_downstream_of_its_tables():
    first, second = keys_of_a_full_run("2024-03-31-aaaa"), keys_of_a_full_run("2024-06-30-bbbb")
    assert all(first[step] != second[step] for step in first)


def test_new_code_changes_every_key():
    before, after = keys_of_a_full_run("d", "code-v1"), keys_of_a_full_run("d", "code-v2")
    assert all(before[step] != after[step] for step in before)


def test_a_step_has_no_key_while_a_dependency_has_none():
    recorded = keys_of_a_full_run("d")
    recorded["bronze_posts_dataquality"] = None  # interrupted while rewriting its tables
    assert inputs_key(STEP_DECLARATIONS["silver_posts"], "d", recorded, CODE) is None
    assert inputs_key(STEP_DECLARATIONS["silver_users"], "d", recorded, CODE) is not None


def test_only_the_dependencies_a_step_reads_enter_its_key():
    recorded = keys_of_a_full_run("d")
    other = {**recorded, "bronze_tables": "something else"}
    silver = STEP_DECLARATIONS["silver_posts"]
    assert inputs_key(silver, "d", recorded, CODE) == inputs_key(silver, "d", other, CODE)


def test_the_newest_row_of_a_step_is_its_key_whatever_the_order_read():
    start = datetime(2026, 1, 1)
    rows = [
        {"step": "silver_posts", "inputs_key": "k1", "recorded_at": start},
        {"step": "silver_posts", "inputs_key": None, "recorded_at": start + timedelta(hours=2)},
        {"step": "silver_posts", "inputs_key": "k2", "recorded_at": start + timedelta(hours=1)},
        {"step": "gold_posts_users", "inputs_key": "g", "recorded_at": start},
    ]
    assert latest_keys(rows) == {"silver_posts": None, "gold_posts_users": "g"}
    assert latest_keys(reversed(rows)) == latest_keys(rows)


def test_the_code_digest_follows_the_code_and_checks_not_the_bytecode(tmp_path):
    package = tmp_path / "lakehouse"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    original = code_digest(package)
    (package / "__pycache__").mkdir(exist_ok=True)
    (package / "__pycache__" / "steps.cpython-311.pyc").write_bytes(b"\0")
    assert code_digest.__wrapped__(package) == original
    checks = next(package.rglob("*.yml"))
    checks.write_text(checks.read_text() + "\n# changed\n")
    assert code_digest.__wrapped__(package) != original


def lake_in(bucket: str) -> Lake:
    """A lake whose locations are known; no Spark, as KeysSeen never reads."""
    return Lake(spark=None, settings=LakeSettings(bucket=bucket))


def test_a_run_sees_the_keys_it_read_and_those_recorded_since():
    seen, lake = KeysSeen(), lake_in("lake-a")
    assert seen.of_run(lake, "s", "run-1") is None
    seen.remember(lake, "s", "run-1", {"bronze_posts": "k1"})
    seen.recorded(lake, "s", "bronze_users", "k2")
    assert seen.of_run(lake, "s", "run-1") == {"bronze_posts": "k1", "bronze_users": "k2"}
    assert seen.of_run(lake, "s", "run-2") is None  # another run reads the table afresh
    assert seen.of_run(lake, "other-site", "run-1") is None
    assert seen.of_run(lake_in("lake-b"), "s", "run-1") is None


def test_a_read_that_a_record_overtook_does_not_hide_that_record():
    """Steps side by side: one reads, another records its key, then the first read's
    older rows arrive."""
    seen, lake = KeysSeen(), lake_in("lake-a")
    seen.remember(lake, "s", "run-1", {})
    seen.recorded(lake, "s", "bronze_posts", "k1")
    assert seen.remember(lake, "s", "run-1", {}) == {"bronze_posts": "k1"}


def test_a_key_recorded_as_none_by_another_run_is_seen():
    seen, lake = KeysSeen(), lake_in("lake-a")
    seen.remember(lake, "s", "run-1", {"bronze_posts_dataquality": "k1"})
    seen.recorded(lake, "s", "bronze_posts_dataquality", None)
    assert seen.of_run(lake, "s", "run-1") == {"bronze_posts_dataquality": None}
