"""The Makefile as a user's terminal or a CI log shows it: setup says what it fetches,
help and setup leave no escape codes, and the servers' ports come from one place."""

import re
import subprocess

import pytest

from worker.paths import REPO_ROOT

pytestmark = pytest.mark.unit

ESCAPE = "\x1b"


def make(*args: str) -> subprocess.CompletedProcess:
    """`make` with its output piped, as in a log."""
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_fetching_the_jars_says_what_and_leaves_no_escape_codes(tmp_path):
    """Maven's console library writes color codes even in batch mode."""
    jars = tmp_path / "jars"
    fetched = make(f"JARS_DIR={jars}", f"{jars}/.fetched")
    assert fetched.returncode == 0, fetched.stderr
    shown = fetched.stdout + fetched.stderr
    assert ESCAPE not in shown, repr(shown)
    wanted = re.findall(r"<dependency>", (REPO_ROOT / "env/jars.pom.xml").read_text())
    assert len(list(jars.glob("*.jar"))) == len(wanted)
    assert shown.splitlines()[0] == (
        f"setup: fetching the {len(wanted)} jars of env/jars.pom.xml from Maven Central "
        f"into {jars} (once; under a minute)"
    )


def test_help_has_no_escape_codes_in_a_log_and_states_no_port():
    """The ports are settings (LAKE_S3_ENDPOINT, LAKE_SPARK_REMOTE, --port): a number
    here would be wrong whenever one is set."""
    shown = make("help").stdout
    assert "  local-run " in shown
    assert ESCAPE not in shown
    local_servers = [line for line in shown.splitlines() if not line.startswith("  kind-")]
    assert not re.search(r"\b(4566|15002|8080|8888)\b", "\n".join(local_servers)), shown


@pytest.mark.parametrize("target", ["airflow", "lab"])
def test_make_airflow_and_lab_take_a_port(target):
    planned = make("--dry-run", target, "PORT=9123").stdout
    assert f"lake {target} start" in planned and "--port 9123" in planned, planned
