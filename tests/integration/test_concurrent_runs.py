"""Real `lake run` processes at the same time, and Ctrl-C: nothing lost, one clear line.

Timing is made deterministic by the runner's test hook (`LAKE_TEST_PAUSE_BEFORE`), which
holds a run before a step while a flag file exists. The oracles are the dump's own
numbers: Tags.xml `Count`, the rows of each file, and the data-quality checks counting
every post.
"""

import json
import os
import time
from pathlib import Path

import psutil
import pytest
from lake_runs import Run
from lxml import etree
from pipeline_helpers import versions
from pyspark.sql import functions as F

from dump_generator.sample import SampleSpec, pack_sample_dump
from lakehouse.lake import Lake
from lakehouse.settings import environment_set
from site_locks import take_over
from worker.ingest.raw_store import s3_client
from worker.ingest.site_lock import lock_holder
from worker.kernel_specs import KERNEL_MODULE


def wait_for(condition, timeout: float, what: str, runs: list[Run] = ()) -> None:
    """Wait for `condition`; fail at once, with their errors, when all `runs` have ended."""
    deadline = time.monotonic() + timeout
    while not condition():
        if runs and all(run.process.poll() is not None for run in runs):
            ended = "\n".join(f"exit {r.process.returncode}: {r.stderr[-1500:]}" for r in runs)
            raise AssertionError(f"the runs ended before {what}:\n{ended}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def check_against_the_dump(lake: Lake, site: str, xml_dir: Path) -> None:
    """Every table holds the dump: Tags.xml Count in gold, every Posts.xml row checked
    and routed, every post in silver."""
    rows = sum(1 for _ in etree.iterparse(str(xml_dir / "Posts.xml"), tag="row"))
    tags = {
        r.get("TagName"): int(r.get("Count"))
        for _, r in etree.iterparse(str(xml_dir / "Tags.xml"), tag="row")
    }

    def count(name: str) -> int:
        return lake.read(name).where(F.col("site") == site).count()

    assert count("bronze.posts") == rows
    assert count("bronze.posts_valid") + count("bronze.posts_quarantine") == rows
    checked = {
        r["checked_rows"]
        for r in lake.read("bronze.dq_results").where(F.col("site") == site).collect()
    }
    assert checked == {rows}
    assert count("silver.posts") == count("bronze.posts_valid")
    gold = {
        r["tag"]: r["question_count"]
        for r in lake.read("gold.most_popular_tags").where(F.col("site") == site).collect()
    }
    assert gold == {tag: n for tag, n in tags.items() if n}


@pytest.fixture
def own_lake(spark, settings, s3_server, request):
    """A bucket no run has created yet: the runs race to create it too."""
    bucket = f"{settings.bucket}-{request.node.name.split('_')[1]}-{os.getpid()}"
    own = settings.model_copy(update={"bucket": bucket})
    return Lake(spark, own)


def sample_archive(tmp_path: Path, site: str) -> tuple[Path, Path]:
    xml_dir = tmp_path / "xml"
    archive = pack_sample_dump(
        SampleSpec(site=site, questions=30), xml_dir, tmp_path / f"{site}.7z"
    )
    return archive, xml_dir


def test_two_runs_of_one_site_at_once_then_ctrl_c_the_one_writing(own_lake, spark_server, tmp_path):
    """Two runs start at the same instant on a fresh lake: one writes, the other waits
    with a message. Ctrl-C stops the writer cleanly (exit 130, one line, its kernel gone
    and the shared Spark still up, the lock given back); the waiter then takes the site
    over and finishes the run, and every table holds the dump."""
    site = "twice.example.com"
    archive, xml_dir = sample_archive(tmp_path, site)
    flag = tmp_path / "hold"
    flag.touch()
    # Both carry the hook: whichever takes the lock stops before data quality, the
    # moment two runs used to race over a shared scratch table.
    pause = f"bronze_posts_dataquality:{flag}"
    runs = [
        Run(archive, own_lake.settings, tmp_path, name, pause, terminal=True) for name in ("a", "b")
    ]
    s3 = s3_client(own_lake.settings)

    reached = Path(f"{flag}.reached")
    wait_for(reached.exists, 600, "the first run to reach the pause", runs)
    wait_for(lambda: any("waiting for run" in r.stderr for r in runs), 60, "a run to wait", runs)
    waiter = next(r for r in runs if "waiting for run" in r.stderr)
    writer = next(r for r in runs if r is not waiter)
    holder = lock_holder(s3, own_lake.settings.bucket, site)
    waiting = [line for line in waiter.stderr.splitlines() if line.startswith("waiting")]
    assert waiting == [f"waiting for {holder.describe()}, which is writing {site}"]
    helpers = psutil.Process(writer.process.pid).children(recursive=True)
    assert any(KERNEL_MODULE in h.cmdline() for h in helpers), "no kernel under the run"

    reached.unlink()
    flag.unlink()  # The writer goes on into the step; the waiter will pause before it.
    step_started = "[4/8] bronze_posts_dataquality ..."
    wait_for(lambda: step_started in writer.stderr, 60, "the step to start", [writer])
    flag.touch()
    time.sleep(1.5)  # into the step's cell: its checks take seconds even on the sample
    writer.ctrl_c()
    assert writer.wait(timeout=60) == 130
    shown = writer.stderr.splitlines()
    # Its folder says so: summary.json names the step, and the notebooks run before it.
    (summary,) = [json.loads(path.read_text()) for path in tmp_path.glob("runs/*/summary.json")]
    assert summary["interrupted"].startswith("stopped at step bronze_posts_dataquality ")
    assert set(summary["seconds"]) >= {"bronze_posts", "bronze_users", "bronze_tables"}
    assert shown[shown.index(step_started) + 1 :] == [
        "^Cinterrupted: stopped at step bronze_posts_dataquality (finished: bronze_posts, "
        "bronze_users, bronze_tables); every table is at its last commit, and running the "
        "same command again resumes the run"
    ]
    _, alive = psutil.wait_procs(helpers, timeout=30)
    assert not alive, f"left running: {[p.cmdline()[:3] for p in alive]}"
    assert spark_server.answers(), "the shared Spark went down with the run"

    # The waiter now holds the site, and reaches the same pause on its way through.
    wait_for(reached.exists, 600, "the waiter to take over", [waiter])
    assert lock_holder(s3, own_lake.settings.bucket, site).run_id != holder.run_id
    assert "took over" not in waiter.stderr, "the interrupted run did not give the lock back"
    flag.unlink()
    assert waiter.wait() == 0, waiter.stderr
    assert "already in the lake" in waiter.stderr
    assert "[IPKernelApp]" not in waiter.stderr + writer.stderr, "kernel start-up noise"
    assert "findfont" not in waiter.stderr, "a font warning from the report's charts"
    assert lock_holder(s3, own_lake.settings.bucket, site) is None
    check_against_the_dump(own_lake, site, xml_dir)


def test_a_run_whose_site_is_taken_over_stops_before_its_next_write(own_lake, tmp_path):
    """Another run takes the site over while this one is between two steps (as after a
    long pause judged stale): this run stops in one line naming the new holder, exits
    non-zero, writes nothing more, and leaves the new holder's lock in place."""
    site = "usurped.example.com"
    archive, _ = sample_archive(tmp_path, site)
    flag = tmp_path / "hold"
    flag.touch()
    with environment_set({"LAKE_LOCK_STALE_SECONDS": "5"}):  # a heartbeat each second
        run = Run(
            archive, own_lake.settings, tmp_path, "a", pause=f"bronze_users:{flag}", terminal=True
        )
    try:
        wait_for(Path(f"{flag}.reached").exists, 600, "the run to finish bronze_posts", [run])
        helpers = psutil.Process(run.process.pid).children(recursive=True)
        before = versions(own_lake)
        s3 = s3_client(own_lake.settings)
        new_holder = take_over(s3, own_lake.settings.bucket, site, "usurper")
        flag.unlink()  # free to go on: only the lost lock may stop it

        assert run.wait(timeout=60) == 1, run.stderr[-3000:]
        assert run.stderr.strip().splitlines()[-1] == (
            f"error: lost the lock of {site} to {new_holder}; this run stopped before its next "
            "write: the steps it committed stay, and the run holding the site now decides what "
            "follows"
        )
        assert "Traceback" not in run.stderr
        assert versions(own_lake) == before, "the run wrote after losing its site"
        assert "bronze.users" not in before, "the pause was not before bronze_users"
        assert lock_holder(s3, own_lake.settings.bucket, site).run_id == "usurper"
        _, alive = psutil.wait_procs(helpers, timeout=30)
        assert not alive, f"left running: {[p.cmdline()[:3] for p in alive]}"
    finally:
        if run.process.poll() is None:  # a run that did not stop: leave nothing behind
            process = psutil.Process(run.process.pid)
            for left in [*process.children(recursive=True), process]:
                left.kill()


def test_an_s3_server_that_dies_mid_run_is_named_in_one_line(settings, tmp_path):
    """The run's own S3 server is killed between two steps: the next step fails with
    one line naming the server and the fix, and what was committed before is intact."""
    from deltalake import DeltaTable

    from lakehouse.target import resolve
    from laptop.ports import free_port
    from laptop.spark_connect_server import SparkConnectServer
    from worker.s3_server import server_for

    own = settings.model_copy(update={"s3_endpoint": f"http://127.0.0.1:{free_port()}"})
    server = server_for(own, tmp_path / "data", tmp_path / "state")
    spark = SparkConnectServer(own, tmp_path / "spark", port=free_port())
    site = "fragile.example.com"
    archive, xml_dir = sample_archive(tmp_path, site)
    flag = tmp_path / "hold"
    flag.touch()
    try:
        server.start()
        spark.start()
        own_cluster = {"LAKE_S3_ENDPOINT": own.s3_endpoint, "LAKE_SPARK_REMOTE": spark.url}
        with environment_set(own_cluster):
            run = Run(archive, own, tmp_path, "a", pause=f"bronze_users:{flag}")
        wait_for(Path(f"{flag}.reached").exists, 600, "the run to finish bronze_posts", [run])
        server.stop(kill=True)
        flag.unlink()
        assert run.wait(timeout=300) == 1
        last = run.stderr.strip().splitlines()[-1]
        assert last.startswith(
            f"error: step bronze_users failed: the S3 server at {own.s3_endpoint} stopped "
            "answering; every table is at its last commit: start it with `make s3-start`"
        ), run.stderr[-3000:]
        assert "Traceback" not in run.stderr

        server.start()
        posts = DeltaTable(
            f"s3://{own.bucket}/bronze/posts", storage_options=resolve(own).s3.delta_rs()
        )
        stored = posts.to_pyarrow_table(columns=["id"], filters=[("site", "=", site)]).num_rows
        assert stored == sum(1 for _ in etree.iterparse(str(xml_dir / "Posts.xml"), tag="row"))
    finally:
        spark.stop()
        server.stop()


def test_the_three_bronze_loads_side_by_side_lose_nothing(lake, settings, tmp_path):
    """The three bronze steps of one site on one server at once, as Airflow may run them:
    they race on the shared history tables (rejected_rows, dump_loads, row_lineage,
    step_runs), Delta refuses the later commits, and the retries must leave every row of
    every file counted once."""
    from pipeline_helpers import ingest_sample

    from lakehouse import steps
    from lakehouse.graph import run_graph
    from lakehouse.schemas import table_for_file
    from lakehouse.steps import PIPELINE
    from lakehouse.tables import DUMP_LOADS, ROW_LINEAGE

    site = "side-by-side.example.com"
    ingested = ingest_sample(settings, tmp_path, site, questions=15)
    ctx = steps.run_context(lake, site)
    bronze = tuple(task for task in PIPELINE if not task.depends_on)
    spans: dict[str, tuple[float, float]] = {}

    def run_step(task) -> None:
        started = time.monotonic()
        steps.STEPS[task.name](ctx)
        spans[task.name] = (started, time.monotonic())

    run_graph(bronze, run_step, parallel=len(bronze))
    latest_start = max(start for start, _ in spans.values())
    assert all(end > latest_start for _, end in spans.values()), "they did not overlap"

    def site_rows(name: str):
        return lake.read(name).where(F.col("site") == site)

    tables = {table_for_file(name).name: rows for name, rows in ingested.rows.items()}
    for table, rows in tables.items():
        assert site_rows(f"bronze.{table}").count() == rows, table
    per_table = site_rows(ROW_LINEAGE).groupBy("table_name").count().collect()
    lineage = {row["table_name"]: row["count"] for row in per_table}
    assert lineage == tables
    loads = site_rows(DUMP_LOADS).select("table_name", "dump_id").collect()
    assert sorted(loads) == sorted((table, ingested.dump_id) for table in tables)
