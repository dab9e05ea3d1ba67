"""CI is given the real dumps, the oracles of the real-dump tests: under CI=true their
absence fails the suite at once, in one line naming the folder, instead of skipping."""

import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

pytestmark = pytest.mark.unit


def _collect(shared: str, ci: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LAKE_TEST_SHARED_DUMPS": shared, "CI": ci}
    command = [
        "pytest",
        "--collect-only",
        "-q",
        "-p",
        "no:cacheprovider",
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
