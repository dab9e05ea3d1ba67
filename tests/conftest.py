"""Shared fixtures. Tests never touch the user's lake: each session runs its own S3Proxy
and its own Spark Connect server on free ports, over a temporary directory, and stops
them by process id at the end. Every Spark in the session, in this process or in a
kernel, an Airflow task or a run it starts, is a client of that one server. Its Python
workers run .venv-databricks, the libraries of Databricks Runtime 18 LTS, as the code in
Spark's workers does in production."""

import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import pytest

from lakehouse.settings import LakeSettings, environment_set
from laptop.local_cluster import REMOTE_VARIABLE
from laptop.ports import free_port
from worker.paths import DATABRICKS_PYTHON
from worker.s3_server import server_for

REPO_ROOT = Path(__file__).resolve().parents[1]
# Screenshots the browser tests leave to look at (not committed).
ARTIFACTS = REPO_ROOT / "test-artifacts"
# The real dumps, read in place; a test of the suite itself points elsewhere.
SHARED_DUMPS = Path(
    os.environ.get("LAKE_TEST_SHARED_DUMPS") or REPO_ROOT.parent / "shared" / "stackexchange"
)
QUICK_START_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
# Each worker's Spark Connect server: the serial GC, and C2 only for the hottest code.
SESSION_SERVER_JVM = "-XX:+UseSerialGC -XX:CompileThresholdScaling=3"


def shared_dumps_present() -> bool:
    return any(SHARED_DUMPS.glob("*.7z"))


# CI is given everything a test needs (the shared folder, Chromium, ShellCheck, 7-Zip):
# there, nothing may be skipped for want of it.
IN_CI = os.environ.get("CI") == "true"


def absent(what: str):
    """Skip a test for want of `what` on a developer's machine; fail it under CI=true."""
    if IN_CI:
        pytest.fail(f"{what}; CI=true is given it, so this fails", pytrace=False)
    pytest.skip(what)


NO_SHARED_DUMPS = f"the real StackExchange dumps are missing: {SHARED_DUMPS} holds no <site>.7z"


# What a whole run writes to the temporary folder (its lakes, Spark's spill, Airflow's
# homes; about 4 GiB), with room to spare: with less, Spark and Delta fail part way
# through many tests at once, and CI has seen the run hang until its limit.
SUITE_DISK_GIB = 8


def require_free_disk(folder: Path) -> None:
    """Stop before any test, in one line, when `folder`'s disk has too little room."""
    free_gib = shutil.disk_usage(folder).free / 2**30
    if free_gib < SUITE_DISK_GIB:
        raise pytest.UsageError(
            f"only {free_gib:.1f} GiB free on {folder}'s disk; the tests need "
            f"{SUITE_DISK_GIB} GiB there: free some space (old /tmp/pytest-of-*, "
            "`uv cache prune`) or set TMPDIR to a roomier disk"
        )


def pytest_configure(config):
    """A disk too full for the suite stops it at once, in one line. CI is given the real
    dumps: there, their absence stops the run at once too, instead of skipping the tests
    whose oracles they are. And Airflow, when a test imports it, keeps its files in a
    throwaway home."""
    if IN_CI and not shared_dumps_present():
        raise pytest.UsageError(
            f"{NO_SHARED_DUMPS}; CI=true runs every real-dump test, so put the shared folder "
            "beside the checkout (or unset CI to skip them)"
        )
    require_free_disk(Path(tempfile.gettempdir()))
    if not DATABRICKS_PYTHON.exists():
        raise pytest.UsageError(
            f"{DATABRICKS_PYTHON} is missing: the tests run Spark's Python workers and the "
            "Databricks side under it; `make test` builds it (or `make databricks-env`)"
        )
    if "AIRFLOW_HOME" not in os.environ:
        os.environ["AIRFLOW_HOME"] = home = tempfile.mkdtemp(prefix="airflow-home-")
        config.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    # The Spark servers a test starts for itself (and the lab's read-only one) are
    # short-lived and small: C1-only JIT runs a notebook about 1.2x faster (BENCHMARKS.md).
    os.environ.setdefault("LAKE_SPARK_JAVA_OPTIONS", QUICK_START_JVM)


# The modules that take minutes, longest first (BENCHMARKS.md, "The test suite"). The
# workers take whole groups of files in collection order (`make test` keeps it), so these
# start first and the workers finish together, not one of them alone at the end.
LONGEST_FIRST = (
    "test_notebooks.py",
    "test_airflow_scheduler.py",
    "test_pipeline.py",
    "test_real_dumps.py",
    "test_quiet_quarters.py",
    "test_dump_formats.py",
    "test_concurrent_runs.py",
    "test_data_quality.py",
    "test_lab.py",
    "test_bronze_bad_input.py",
)


def _longest_first(item) -> int:
    name = Path(item.fspath).name
    return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)


# The modules that read a session fixture's load, by fixture. Under `--dist loadfile` one
# worker takes each group together, so that its pipeline run (minutes) happens once.
PIPED_MODULES = (
    "tests/notebooks/test_notebooks.py",
    "tests/integration/test_pipeline.py",
    "tests/integration/test_lab.py",
    "tests/integration/test_report.py",
)
REAL_DUMP_MODULES = (
    "tests/integration/test_real_dumps.py",
    "tests/integration/test_standalone_cluster.py",
)
MODULE_GROUPS = {"piped_site": PIPED_MODULES, "real_dump": REAL_DUMP_MODULES}


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile`, with each group of MODULE_GROUPS handed out as one file.
    (xdist's `loadgroup` would do it by marks, but with pytest 9.2 it silently groups
    nothing: pytest-dev/pytest-xdist#1386.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class GroupsTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = super()._split_scope(nodeid)
            group = next((g for g in MODULE_GROUPS.values() if module in g), (module,))
            return group[0]

    return GroupsTogether(config, log)


def _check_module_groups(items) -> None:
    """A module that reads a group's fixture but is not in the group would run that
    fixture's load again on whichever worker takes it."""
    for fixture, group in MODULE_GROUPS.items():
        readers = {item.nodeid.split("::")[0] for item in items if fixture in item.fixturenames}
        unlisted = readers - set(group)
        if unlisted:
            raise pytest.UsageError(
                f"add {sorted(unlisted)} to MODULE_GROUPS[{fixture!r}] in tests/conftest.py"
            )


def pytest_collection_modifyitems(items):
    """Mark each test by its folder, so `-m unit|integration|notebooks` picks a tier, and
    put the longest modules first (a stable sort: each module's own order stays)."""
    _check_module_groups(items)
    for item in items:
        tier = Path(item.fspath).parent.name
        if tier in ("unit", "integration", "notebooks"):
            item.add_marker(tier)
    items.sort(key=_longest_first)


# What the session's fixtures export on purpose (see `local_cluster`).
_EXPORTED: dict[str, str] = {}


def _lake_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(("LAKE_", "SPARK_CONNECT"))}


@pytest.fixture(autouse=True)
def environment_left_as_found():
    """Every later test and subprocess of this worker inherits os.environ: a test that
    leaves a LAKE_ variable changed (once, an endpoint of port 1) breaks tests it never
    meets. Fail the test that did it."""
    before = _lake_environment()
    yield
    after = _lake_environment()
    changed = {
        k
        for k in before.keys() | after.keys()
        if before.get(k) != after.get(k) and _EXPORTED.get(k) != after.get(k)
    }
    assert not changed, f"the test left these variables changed: {sorted(changed)}"


@pytest.fixture(scope="session")
def lake_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("lake")


@pytest.fixture(scope="session")
def settings() -> LakeSettings:
    return LakeSettings(
        s3_endpoint=f"http://127.0.0.1:{free_port()}",
        bucket="test-lake",
        spark_remote=f"sc://127.0.0.1:{free_port()}",
    )


@pytest.fixture(scope="session")
def s3_server(local_cluster):
    return local_cluster[0]


@pytest.fixture(scope="session")
def spark_server(local_cluster):
    return local_cluster[1]


@pytest.fixture(scope="session")
def local_cluster(settings, lake_dir, tmp_path_factory):
    """A private S3Proxy and a Spark Connect server in front of it, started together so
    that no runner a test starts can fall back to the user's own. Their addresses are
    exported: kernels, tasks and runs started by tests inherit them."""
    from laptop.spark_connect_server import SparkConnectServer

    s3_server = server_for(settings, lake_dir, tmp_path_factory.mktemp("s3-state"))
    # Long-lived and doing all the work: C2's JIT, not the quick-start flags; but the
    # suite is CPU-bound, and these cut the server's CPU by about a fifth (BENCHMARKS.md).
    serving = settings.model_copy(
        update={"spark_java_options": SESSION_SERVER_JVM, "job_python": str(DATABRICKS_PYTHON)}
    )
    port = urlparse(settings.spark_remote).port
    spark_server = SparkConnectServer(serving, tmp_path_factory.mktemp("spark"), port=port)
    exported = {
        "LAKE_S3_ENDPOINT": settings.s3_endpoint,
        "LAKE_BUCKET": settings.bucket,
        REMOTE_VARIABLE: settings.spark_remote,
    }
    try:
        s3_server.start()
        spark_server.start()
        with environment_set(exported):
            _EXPORTED.update(exported)
            yield s3_server, spark_server
    finally:
        spark_server.stop()
        s3_server.stop()


@pytest.fixture(scope="session")
def s3(settings, s3_server):
    from worker.ingest.raw_store import ensure_bucket, s3_client

    client = s3_client(settings)
    ensure_bucket(client, settings.bucket)
    return client


@pytest.fixture(scope="session")
def spark(settings, spark_server):
    from worker.spark_session import build_local_session

    session = build_local_session(settings)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def lake(spark, settings, s3_server):
    from lakehouse.lake import Lake

    return Lake(spark, settings)


@pytest.fixture(scope="session")
def shared_dumps() -> Path:
    if not shared_dumps_present():
        absent(f"{NO_SHARED_DUMPS}; they are only in the project's shared folder")
    return SHARED_DUMPS


@pytest.fixture(scope="session")
def piped_site(lake, settings, s3, lake_dir, tmp_path_factory):
    """A generated dump taken through the whole pipeline once, by its notebooks as `make
    local-run` runs them, for every module that reads its tables (they share one worker:
    PIPED_MODULES); on the way, each notebook is checked to write only
    what the graph declares."""
    from pipeline_helpers import PIPED_SITE, ingest_sample, run_notebooks_checking_writes

    work = tmp_path_factory.mktemp("piped")
    ingested = ingest_sample(settings, work, PIPED_SITE)
    run_notebooks_checking_writes(lake, lake_dir, PIPED_SITE, ingested.dump_id, work / "run")
    return ingested


@pytest.fixture(scope="session")
def real_dump(shared_dumps, lake, settings, tmp_path_factory):
    """A real dump loaded alone, the oracle of the modules of REAL_DUMP_MODULES (one
    worker takes them together)."""
    from real_dump_helpers import load_real_dump

    return load_real_dump(shared_dumps, lake, settings, tmp_path_factory.mktemp("real-dump"))


# Below the real dump's posts (1,446) and users (2,551), above its tags (94), whatever
# the earlier dump cut from them (../shared/stackexchange/README.md).
REFRESHED_COMPARE_MAX_ROWS = 100


@pytest.fixture(scope="module")
def refreshed_lake(spark, settings, s3_server):
    """The refresh test's lake of its own, so that no other test's load of the same site
    interferes: an earlier dump is loaded into it, then the newer one. Its computed
    tables are rewritten uncompared, as a large site's are (REFRESHED_COMPARE_MAX_ROWS);
    the sample's refreshes and the quiet quarters compare theirs."""
    from real_dump_helpers import lake_in_bucket

    uncompared = settings.model_copy(update={"compare_max_rows": REFRESHED_COMPARE_MAX_ROWS})
    return lake_in_bucket(spark, uncompared, f"{settings.bucket}-refreshed")
