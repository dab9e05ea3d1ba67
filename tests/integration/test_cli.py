"""The `lake` command as users run it: SQL on logical names, and failures that exit
non-zero with one clear message naming the step, the file or the setting."""

import os
import re
import subprocess
import sys

import pytest
from lake_runs import in_terminal
from pipeline_helpers import ingest_sample

from lakehouse import steps
from laptop.local_run import StepFailed, run_notebooks

SITE = "cli.example.com"


def lake_in_terminal(*args: str, **env: str) -> subprocess.CompletedProcess:
    """`lake` as a user meets its errors: in a terminal, stdout and stderr on one screen
    (`stderr` holds what the screen showed)."""
    command = [sys.executable, "-m", "laptop.cli", *args]
    code, shown = in_terminal(command, {**os.environ, **env})
    return subprocess.CompletedProcess(command, code, stdout="", stderr=shown)


def lake_command(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "laptop.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=600,
    )


def test_sql_reads_logical_table_names_and_prints_csv(lake, settings, s3, tmp_path):
    ingested = ingest_sample(settings, tmp_path, SITE, questions=15)
    steps.bronze_posts(steps.run_context(lake, SITE))
    result = lake_command(
        "sql", f"SELECT count(*) AS posts FROM bronze.posts WHERE site = '{SITE}'"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["posts", str(ingested.rows["Posts.xml"])]


def test_sql_errors_are_one_line_and_a_missing_table_lists_the_lakes(lake, settings, s3, tmp_path):
    ingest_sample(settings, tmp_path, SITE, questions=15)
    steps.bronze_posts(steps.run_context(lake, SITE))  # a lake with a table, and its bucket
    for query, error in [
        ("SELECT nope FROM bronze.posts", "error: [UNRESOLVED_COLUMN"),
        ("SELECT * FROM gold.nope", "error: [TABLE_OR_VIEW_NOT_FOUND]"),
    ]:
        result = lake_in_terminal("sql", query)
        assert result.returncode == 1
        # Above the error, only the servers' one-line status; no JSON log, no trace.
        *status, last = result.stderr.strip().splitlines()
        assert last.startswith(error), result.stderr
        assert all(" on http" in line or " on sc://" in line for line in status), status
    assert "`gold`.`nope`" in last and "The lake's tables: bronze.posts, " in last


def test_missing_archive_is_named(s3):
    result = lake_in_terminal("run", "--dump", "/nonexistent/x.stackexchange.com.7z")
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        "error: /nonexistent/x.stackexchange.com.7z: no such dump archive"
    )


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        ("LAKE_BUCKET", "Not_A_Bucket", "error: bad setting LAKE_BUCKET='Not_A_Bucket' is not"),
        (
            "LAKE_MAX_DELETED_SHARE",
            "abc",
            "error: bad setting LAKE_MAX_DELETED_SHARE='abc': Input should be a valid number",
        ),
    ],
)
def test_bad_setting_is_named_with_its_value(s3, variable, value, line):
    result = lake_in_terminal("s3", "status", **{variable: value})
    assert result.returncode == 1
    assert result.stderr.strip().startswith(line), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_kind_s3_pods_command_names_a_bad_setting_in_one_line():
    """kind/s3.yaml's command, which has no `lake` in front of it, as the pod's log shows
    it: one line naming the variable, not a traceback."""
    command = [sys.executable, "-m", "worker.s3_server"]
    code, shown = in_terminal(command, {**os.environ, "LAKE_S3_ENDPOINT": "s3.example.com"})
    assert code == 1
    assert shown.strip().startswith("error: bad setting LAKE_S3_ENDPOINT='s3.example.com'")
    assert len(shown.strip().splitlines()) == 1, shown


def test_failed_notebook_names_the_step_and_the_saved_copy(s3, tmp_path):
    parameters = {"site": "never-ingested.example.com", "dump_id": "", "run_id": "t"}
    with pytest.raises(
        StepFailed,
        match=r"step bronze_posts failed: LookupError: .*saved notebook: .*bronze_posts.ipynb",
    ):
        run_notebooks(parameters, tmp_path, {})
    assert (tmp_path / "bronze_posts.ipynb").exists()


def test_a_corrupted_archive_and_no_network_are_one_line_and_leave_nothing(s3, settings, tmp_path):
    """Through the command a user types: exit 1, one line naming the archive (or
    archive.org and the DUMP= alternative), no raw files, no run folder."""
    from archives import pack
    from laptop.ports import free_port

    site = "corrupted.example.com"
    archive = pack(
        tmp_path / f"{site}.7z",
        {"Posts.xml": bytes(range(256)) * 4000, "Users.xml": b"<users>\n</users>\n"},
    )
    data = bytearray(archive.read_bytes())
    for offset in range(64, len(data) // 2, 97):
        data[offset] ^= 0xFF
    archive.write_bytes(bytes(data))
    runs = tmp_path / "runs"
    places = {"LAKE_RUNS_DIR": str(runs), "LAKE_WORK_DIR": str(tmp_path / "work")}

    corrupted = lake_command("run", "--dump", str(archive), **places)
    assert corrupted.returncode == 1
    last_line = corrupted.stderr.strip().splitlines()[-1]
    assert re.fullmatch(
        rf"error: {re.escape(site)}.7z: Posts.xml is cut or corrupt at byte [\d,]+ of "
        r"1,024,000 \(.+\)",
        last_line,
    ), last_line
    listed = s3.list_objects_v2(Bucket=settings.bucket, Prefix=f"raw/{site}/")
    assert listed.get("KeyCount", 0) == 0

    offline = lake_command(
        "run",
        "--site",
        "bicycles.stackexchange.com",
        LAKE_ARCHIVE_BASE_URL=f"http://127.0.0.1:{free_port()}/download",
        **places,
    )
    assert offline.returncode == 1
    last = offline.stderr.strip().splitlines()[-1]
    assert last.startswith("error: archive.org is unreachable") and "DUMP=" in last
    assert "Traceback" not in corrupted.stderr + offline.stderr
    assert not runs.exists() or not any(runs.iterdir()), "a failed run left a folder"


def test_a_report_with_no_s3_server_names_the_endpoint(tmp_path):
    from laptop.ports import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"
    page = tmp_path / "report.html"
    result = lake_command("report", "--out", str(page), LAKE_S3_ENDPOINT=endpoint)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: the S3 server at {endpoint} does not answer (setting LAKE_S3_ENDPOINT): "
        "start it with `make s3-start`"
    ]
    assert not page.exists()


def test_ctrl_c_in_the_middle_of_a_cell_is_an_interruption_not_a_dead_kernel(tmp_path):
    """nbclient answers SIGINT by shutting the kernel down itself, and the cell then fails
    as DeadKernelError; the run must still say it was interrupted (and stop its query)."""
    import signal
    import time

    import nbformat

    notebook = tmp_path / "sleeps.ipynb"
    sleeps = "import pathlib, time; pathlib.Path(flag).touch(); time.sleep(300)"
    cells = [
        nbformat.v4.new_code_cell("flag = ''", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(sleeps),
    ]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), notebook)
    flag = tmp_path / "in-the-cell"
    script = (
        "import sys\nfrom pathlib import Path\nfrom laptop.shared_kernel import SharedKernel\n"
        "try:\n"
        "    log = Path(sys.argv[2]).with_name('kernel.log')\n"
        "    with SharedKernel(Path(sys.argv[1]).parent, log=log) as kernel:\n"
        "        kernel.run(Path(sys.argv[1]), Path(sys.argv[2]), {'flag': sys.argv[3]})\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(130)\n"
    )
    run = subprocess.Popen(
        [sys.executable, "-c", script, str(notebook), str(tmp_path / "out.ipynb"), str(flag)],
        start_new_session=True,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not flag.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert flag.exists(), run.stderr.read() if run.poll() is not None else "the cell never ran"
    os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
    assert run.wait(timeout=60) == 130, run.stderr.read()[-2000:]
    # The kernel's own logging (its sockets closing under it) stays in its log.
    said = run.stderr.read()
    assert "[IPKernelApp]" not in said and "Traceback" not in said, said
    assert (tmp_path / "kernel.log").is_file()
