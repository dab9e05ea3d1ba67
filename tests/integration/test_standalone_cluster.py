"""A Spark cluster of your own: a standalone master and two workers, each its own JVM,
work folder and Python environment, behind a Spark Connect server whose master is that
cluster. `make local-run` runs on it through LAKE_SPARK_REMOTE alone, and every table it
writes of a real dump equals the local run's (test_real_dumps.py's load), row by row;
also after a worker was killed in the middle of the run."""

import os
import signal
import sys
import time

import psutil
import pytest
from lake_runs import Run
from real_dump_helpers import differences, lake_in_bucket

from lakehouse.lake import Lake
from lakehouse.settings import environment_set
from laptop.local_cluster import REMOTE_VARIABLE
from laptop.standalone_cluster import StandaloneCluster, build_worker_python, install_package
from worker.lake_summary import summarize_site
from worker.report import build_report
from worker.spark_session import connect_session

pytestmark = pytest.mark.realdump
CLUSTER_BUCKET = "cluster-lake"


@pytest.fixture(scope="module")
def worker_pythons(tmp_path_factory) -> tuple:
    """Each worker's own Python environment, first without the package."""
    root = tmp_path_factory.mktemp("worker-pythons")
    return tuple(build_worker_python(root / f"worker-{n}", with_package=False) for n in (1, 2))


@pytest.fixture(scope="module")
def cluster(settings, s3_server, worker_pythons, tmp_path_factory):
    cluster = StandaloneCluster(settings, tmp_path_factory.mktemp("cluster"), worker_pythons)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
    assert cluster.master.running_pid() is None
    assert all(worker.process.running_pid() is None for worker in cluster.workers)


def cluster_run(cluster, shared_dumps, work, name: str, **options) -> Run:
    """`make local-run` as a user with a cluster runs it: LAKE_SPARK_REMOTE names it."""
    archive = shared_dumps / "bicycles.meta.stackexchange.com.7z"
    settings = cluster.settings.model_copy(update={"bucket": CLUSTER_BUCKET})
    with environment_set({REMOTE_VARIABLE: cluster.url}):
        return Run(archive, settings, work, name, **options)


def test_the_executors_are_other_processes_each_in_its_workers_folder_and_python(cluster):
    def where(batches):
        import os

        import pandas

        for batch in batches:
            yield pandas.DataFrame(
                {"cwd": [os.getcwd()] * len(batch), "python": [sys.prefix] * len(batch)}
            )

    session = connect_session(cluster.url, new=True)
    try:
        rows = session.range(0, 16, 1, 16).mapInPandas(where, "cwd string, python string").collect()
    finally:
        session.stop()
    assert len(cluster.alive_workers()) == 2
    for row in rows:
        worker = next(w for w in cluster.workers if row["cwd"].startswith(str(w.work_dir)))
        assert row["python"] == str(worker.python_env)
    assert {row["python"] for row in rows} == {str(w.python_env) for w in cluster.workers}
    # Every JVM of the cluster takes the local Spark's flags (LAKE_SPARK_JAVA_OPTIONS).
    work_dirs = tuple(str(w.work_dir) for w in cluster.workers)
    executors = [
        info["cmdline"]
        for info in (p.info for p in psutil.process_iter(["cmdline", "cwd"]))
        if "CoarseGrainedExecutorBackend" in " ".join(info["cmdline"] or [])
        and (info["cwd"] or "").startswith(work_dirs)
    ]
    assert len(executors) == 2
    daemons = [psutil.Process(cluster.master.running_pid()).cmdline()] + [
        psutil.Process(worker.process.running_pid()).cmdline() for worker in cluster.workers
    ]
    flags = set(cluster.settings.spark_java_options.split())
    assert flags and all(flags <= set(command) for command in executors + daemons)


def test_a_cluster_without_the_package_fails_the_first_step_in_one_line(
    cluster, shared_dumps, tmp_path
):
    run = cluster_run(cluster, shared_dumps, tmp_path, "no-package", terminal=True)
    assert run.wait() == 1
    last = run.stderr.strip().splitlines()[-1]
    assert "No module named 'lakehouse'" in last, run.stderr[-2000:]
    assert "every worker" in last and "docs/spark.md" in last


@pytest.fixture(scope="module")
def cluster_with_package(cluster, worker_pythons):
    for python_env in worker_pythons:
        install_package(python_env)
    return cluster


def _task_lines(worker) -> int:
    """How many tasks the worker's executors have started so far (their logs say)."""
    return sum(
        log.read_text(errors="replace").count("Running task")
        for log in worker.work_dir.glob("app-*/*/stderr")
    )


@pytest.fixture(scope="module")
def cluster_load(cluster_with_package, real_dump, s3, shared_dumps, tmp_path_factory):
    """The real dump through the cluster, with the second worker's JVM killed once it
    runs a task of the first step, and started again; then the same command again: the
    lake it leaves."""
    cluster = cluster_with_package
    victim = cluster.workers[1]
    work = tmp_path_factory.mktemp("cluster-runs")
    hold = work / "before-bronze"
    hold.touch()
    first = cluster_run(cluster, shared_dumps, work, "first", pause=f"bronze_posts:{hold}")
    deadline = time.monotonic() + 300
    while not hold.with_suffix(".reached").exists():
        assert first.process.poll() is None and time.monotonic() < deadline, first.stderr
        time.sleep(0.2)
    tasks_before = _task_lines(victim)
    hold.unlink()
    while _task_lines(victim) == tasks_before:
        assert first.process.poll() is None and time.monotonic() < deadline, "no task reached it"
        time.sleep(0.05)
    os.killpg(victim.process.running_pid(), signal.SIGKILL)
    assert first.wait() == 0, first.stderr[-2000:]  # Spark ran the lost tasks elsewhere
    cluster.start_worker(victim)
    again = cluster_run(cluster, shared_dumps, work, "again")
    assert again.wait() == 0, again.stderr[-2000:]
    session = connect_session(cluster.url, new=True)
    yield lake_in_bucket(session, cluster.settings, CLUSTER_BUCKET)
    session.stop()


def test_every_table_equals_the_local_runs_row_by_row(cluster_load, real_dump, lake):
    on_cluster = Lake(lake.spark, cluster_load.settings)  # compared by the test's own server
    assert differences(on_cluster, lake, real_dump.site) == {}


def test_the_summary_and_the_report_read_what_the_cluster_wrote(cluster_load, real_dump, lake):
    on_cluster = summarize_site(cluster_load.settings, real_dump.site)
    local = summarize_site(lake.settings, real_dump.site)
    assert on_cluster["rows"] == local["rows"] and on_cluster["top_tags"] == local["top_tags"]
    report = build_report(cluster_load.settings, real_dump.site, "cluster", on_cluster)
    assert real_dump.site in report and local["top_tags"][0]["tag"] in report
