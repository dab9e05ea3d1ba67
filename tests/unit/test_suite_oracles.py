"""CI is given the real dumps, the oracles of the real-dump tests: under CI=true their
absence fails the suite at once, in one line naming the folder, instead of skipping. A
disk too full for the suite stops it the same way, before any test."""

import os
import subprocess
import sys
import tempfile

import pytest

from conftest import REPO_ROOT, SHARED_DUMPS

pytestmark = pytest.mark.unit


def _collect(shared: str, ci: str, *plugins: str, path: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "LAKE_TEST_SHARED_DUMPS": shared, "CI": ci}
    if path:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [path, env.get("PYTHONPATH")]))
    command = [
        "pytest",
        "--collect-only",
        "-q",
        "-p",
        "no:cacheprovider",
        *(part for plugin in plugins for part in ("-p", plugin)),
        "tests/unit/test_java.py",
    ]
    return subprocess.run(
        [sys.executable, "-m", *command],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_under_ci_a_missing_shared_folder_fails_in_one_line(tmp_path):
    ran = _collect(str(tmp_path), "true")
    assert ran.returncode != 0, ran.stdout + ran.stderr
    said = [line for line in (ran.stdout + ran.stderr).splitlines() if str(tmp_path) in line]
    assert len(said) == 1, ran.stdout + ran.stderr
    assert f"the real StackExchange dumps are missing: {tmp_path} holds no <site>.7z" in said[0]


def test_outside_ci_the_suite_goes_on_without_them(tmp_path):
    ran = _collect(str(tmp_path), "false")
    assert ran.returncode == 0, ran.stdout + ran.stderr


# A plugin that makes every disk look nearly full to the run it is loaded into.
NEARLY_FULL_DISK = """
import shutil

def _nearly_full(path):
    return shutil._ntuple_diskusage(100 * 2**30, 100 * 2**30 - 2**28, 2**28)

shutil.disk_usage = _nearly_full
"""


def test_a_disk_too_full_for_the_suite_stops_it_in_one_line(tmp_path):
    (tmp_path / "nearly_full_disk.py").write_text(NEARLY_FULL_DISK)
    ran = _collect(str(SHARED_DUMPS), "false", "nearly_full_disk", path=str(tmp_path))
    assert ran.returncode != 0, ran.stdout + ran.stderr
    said = [line for line in (ran.stdout + ran.stderr).splitlines() if "GiB free" in line]
    assert len(said) == 1, ran.stdout + ran.stderr
    assert f"only 0.2 GiB free on {tempfile.gettempdir()}'s disk; the tests need 8 GiB" in said[0]
