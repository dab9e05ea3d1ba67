"""The keys a step records, and when they tell it that it has nothing to do."""

import shutil
from datetime import datetime, timedelta

from lakehouse.graph import Step
from lakehouse.lake import Lake
from lakehouse.settings import LakeSettings
from lakehouse.step_runs import (
    NO_KEYS,
    PACKAGE,
    KeysSeen,
    StepKeys,
    StepRun,
    code_digest,
    inputs_key,
    latest_keys,
)
from lakehouse.steps import PIPELINE, STEP_DECLARATIONS

CODE = "code-v1"


def keys_of_a_full_run(dump_id: str, code: str = CODE) -> dict[str, StepKeys]:
    """What every step records after a run of the whole graph on `dump_id` that rewrote
    every table."""
    recorded: dict[str, StepKeys] = {}
    for task in PIPELINE:  # PIPELINE lists every dependency before its dependants.
        key = inputs_key(task, dump_id, recorded, code)
        recorded[task.name] = StepKeys(key, key)
    return recorded


def test_every_step_gets_a_key_in_a_full_run():
    assert NO_KEYS not in keys_of_a_full_run("2024-03-31-aaaa").values()


def test_a_new_dump_changes_every_key_downstream_of_its_tables():
    first, second = keys_of_a_full_run("2024-03-31-aaaa"), keys_of_a_full_run("2024-06-30-bbbb")
    assert all(first[step] != second[step] for step in first)


def test_a_bronze_step_that_rewrote_no_rows_leaves_the_keys_downstream_as_they_were():
    """A quiet quarter: Posts.xml and Users.xml byte for byte the files bronze holds, so
    both bronze steps keep their output keys and data quality has nothing new to compute;
    with Users.xml changed, it has."""
    first, dump_id = keys_of_a_full_run("2024-03-31-aaaa"), "2024-06-30-bbbb"

    def after_the_new_dump(name: str, rewrote: bool) -> StepKeys:
        task = STEP_DECLARATIONS[name]
        key = inputs_key(task, dump_id, first, CODE)
        run = StepRun(lake_in("lake-a"), "s", task, "run-2", key, first[name])
        run.rows_rewritten = rewrote
        return StepKeys(run.key, run.output_key)

    quiet = {
        **first,
        "bronze_posts": after_the_new_dump("bronze_posts", rewrote=False),
        "bronze_users": after_the_new_dump("bronze_users", rewrote=False),
    }
    users_changed = {**quiet, "bronze_users": after_the_new_dump("bronze_users", rewrote=True)}
    data_quality = STEP_DECLARATIONS["bronze_posts_dataquality"]
    assert quiet["bronze_posts"].inputs != first["bronze_posts"].inputs
    assert inputs_key(data_quality, dump_id, quiet, CODE) == first[data_quality.name].inputs
    assert inputs_key(data_quality, dump_id, users_changed, CODE) != quiet[data_quality.name].inputs


def test_a_step_with_no_row_or_a_row_without_an_output_key_outputs_what_it_computed_from():
    lake, bronze_posts = lake_in("lake-a"), Step("bronze_posts")

    def output(task: Step, last: StepKeys | None) -> str | None:
        return StepRun(lake, "s", task, "r", "k2", last).output_key

    assert output(bronze_posts, None) == "k2"
    assert output(bronze_posts, NO_KEYS) == "k2"  # it died: its rows are rewritten
    assert output(bronze_posts, StepKeys("k1", "k0")) == "k0"
    assert output(Step("silver_posts", depends_on=("bronze_posts",)), StepKeys("k1", "k1")) == "k2"
    assert StepRun(lake, "s", bronze_posts, "r", "k2", NO_KEYS).last_run_died
    assert not StepRun(lake, "s", bronze_posts, "r", "k2", None).last_run_died


def test_new_code_changes_every_key():
    before, after = keys_of_a_full_run("d", "code-v1"), keys_of_a_full_run("d", "code-v2")
    assert all(before[step] != after[step] for step in before)


def test_a_step_has_no_key_while_a_dependency_has_none():
    recorded = keys_of_a_full_run("d")
    recorded["bronze_posts_dataquality"] = NO_KEYS  # interrupted while rewriting its tables
    assert inputs_key(STEP_DECLARATIONS["silver_posts"], "d", recorded, CODE) is None
    assert inputs_key(STEP_DECLARATIONS["silver_users"], "d", recorded, CODE) is not None


def test_only_the_dependencies_a_step_reads_enter_its_key():
    recorded = keys_of_a_full_run("d")
    other = {**recorded, "bronze_tables": StepKeys("something else", "something else")}
    silver = STEP_DECLARATIONS["silver_posts"]
    assert inputs_key(silver, "d", recorded, CODE) == inputs_key(silver, "d", other, CODE)


def test_the_newest_row_of_a_step_is_its_key_whatever_the_order_read():
    start = datetime(2026, 1, 1)
    rows = [
        {"step": "silver_posts", "inputs_key": "k1", "output_key": "k1", "recorded_at": start},
        {
            "step": "silver_posts",
            "inputs_key": None,
            "output_key": None,
            "recorded_at": start + timedelta(hours=2),
        },
        {
            "step": "silver_posts",
            "inputs_key": "k2",
            "output_key": "k2",
            "recorded_at": start + timedelta(hours=1),
        },
        {"step": "bronze_posts", "inputs_key": "b2", "output_key": "b1", "recorded_at": start},
        # Written before `output_key` existed.
        {"step": "gold_posts_users", "inputs_key": "g", "recorded_at": start},
    ]
    assert latest_keys(rows) == {
        "silver_posts": NO_KEYS,
        "bronze_posts": StepKeys("b2", "b1"),
        "gold_posts_users": StepKeys("g", "g"),
    }
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
    k1, k2 = StepKeys("k1", "k1"), StepKeys("k2", "k2")
    seen.remember(lake, "s", "run-1", {"bronze_posts": k1})
    seen.recorded(lake, "s", "bronze_users", k2)
    assert seen.of_run(lake, "s", "run-1") == {"bronze_posts": k1, "bronze_users": k2}
    assert seen.of_run(lake, "s", "run-2") is None  # another run reads the table afresh
    assert seen.of_run(lake, "other-site", "run-1") is None
    assert seen.of_run(lake_in("lake-b"), "s", "run-1") is None


def test_a_read_that_a_record_overtook_does_not_hide_that_record():
    """Steps side by side: one reads, another records its key, then the first read's
    older rows arrive."""
    seen, lake = KeysSeen(), lake_in("lake-a")
    seen.remember(lake, "s", "run-1", {})
    seen.recorded(lake, "s", "bronze_posts", StepKeys("k1", "k1"))
    assert seen.remember(lake, "s", "run-1", {}) == {"bronze_posts": StepKeys("k1", "k1")}


def test_a_key_recorded_as_none_by_another_run_is_seen():
    seen, lake = KeysSeen(), lake_in("lake-a")
    seen.remember(lake, "s", "run-1", {"bronze_posts_dataquality": StepKeys("k1", "k1")})
    seen.recorded(lake, "s", "bronze_posts_dataquality", NO_KEYS)
    assert seen.of_run(lake, "s", "run-1") == {"bronze_posts_dataquality": NO_KEYS}
