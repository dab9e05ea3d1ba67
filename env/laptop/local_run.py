"""`make local-run`: bring the emulator up, ingest a dump, run the notebooks in graph
order with papermill, and print and save the run's summary."""

import json
import os
import sys
import time
import traceback
import uuid
from datetime import UTC, datetime
from pathlib import Path

from lakehouse.graph import RUN_PARAMETERS, Step, in_dependency_order, run_graph
from lakehouse.settings import LakeSettings, environment_set
from lakehouse.steps import PIPELINE
from laptop.local_cluster import REMOTE_VARIABLE, with_spark
from worker.error_lines import USER_ERRORS, RunInterrupted, one_line
from worker.ingest.ingest_dump import ingest_dump
from worker.ingest.site_lock import site_lock
from worker.ingest.sources import source_for
from worker.lake_summary import refresh_changes, summarize_site
from worker.paths import NOTEBOOKS_DIR, RUNS_DIR, SAMPLE_DIR, WORK_DIR
from worker.report import build_report
from worker.s3_server import local_server
from worker.spark_session import interrupt_session, remote_of_session
from worker.step_state import steps_with_work


class StepFailed(RuntimeError):
    def __init__(self, step: str, reason: str, notebook: Path):
        super().__init__(f"step {step} failed: {reason} (saved notebook: {notebook})")
        self.step, self.reason, self.notebook = step, reason, notebook


class RunFailed(RuntimeError):
    """Anything else that stopped a run: one line, and the whole trace in a log file."""


# Tests hold a run before a step: "<step>:<flag file>" waits while the flag file exists,
# after touching "<flag file>.reached". Unset, it costs one environment lookup per step.
PAUSE_HOOK = "LAKE_TEST_PAUSE_BEFORE"


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _pause_if_asked(step: str) -> None:
    name, _, flag = os.environ.get(PAUSE_HOOK, "").partition(":")
    if name != step or not flag:
        return
    Path(f"{flag}.reached").touch()
    while Path(flag).exists():
        time.sleep(0.1)


def run_notebooks(
    parameters: dict[str, str], run_dir: Path, timings: dict[str, float], before_step=lambda: None
) -> None:
    """Every notebook of the graph, one at a time, in one kernel; `before_step` is called
    before each (it confirms that the run still holds its site)."""
    # Imported here: papermill and nbformat take seconds to import, and a run with
    # nothing to do never needs them.
    from laptop.shared_kernel import SharedKernel
    from worker.error_lines import NotebookFailed

    tasks = in_dependency_order(PIPELINE)
    current = tasks[0]

    def run_task(task: Step) -> None:
        nonlocal current
        current = task
        number = tasks.index(task) + 1
        _pause_if_asked(task.name)
        before_step()
        output = run_dir / f"{task.name}.ipynb"
        _log(f"[{number}/{len(tasks)}] {task.name} ...")
        started = time.monotonic()
        try:
            kernel.run(NOTEBOOKS_DIR / f"{task.name}.ipynb", output, parameters)
        except NotebookFailed as error:
            raise StepFailed(task.name, error.first_line, output) from None
        timings[task.name] = round(time.monotonic() - started, 1)
        _log(f"[{number}/{len(tasks)}] {task.name} done in {timings[task.name]}s")

    # The kernel's Spark session gets a name, so that Ctrl-C can stop its query on the
    # server too: killing the kernel alone would leave the query running there.
    remote = os.environ.get(REMOTE_VARIABLE, "")
    named = {REMOTE_VARIABLE: remote_of_session(remote, str(uuid.uuid4()))} if remote else {}
    try:
        with (
            environment_set(named),
            SharedKernel(NOTEBOOKS_DIR, log=run_dir / "kernel.log") as kernel,
        ):
            run_graph(PIPELINE, run_task)
    except KeyboardInterrupt:
        if named:
            _stop_on_server(named[REMOTE_VARIABLE])
        done = ", ".join(task.name for task in tasks if task.name in timings)
        raise RunInterrupted(
            f"stopped at step {current.name} (finished: {done or 'none'}); every table is "
            "at its last commit, and running the same command again resumes the run"
        ) from None


def _stop_on_server(remote: str) -> None:
    try:
        interrupt_session(remote)  # Silent when it works: Ctrl-C is one line.
    except Exception as error:  # The server may be what went away; say so, go on.
        _log(f"could not stop the run's query on the Spark server: {error}".splitlines()[0])


def local_run(dump: str | None, site: str | None, settings: LakeSettings, wait: bool = True):
    """Ingest one dump and run every notebook on it, holding the site's lock throughout."""
    run_id = new_run_id()
    run_dir = RUNS_DIR / run_id
    timings: dict[str, float] = {}

    started = time.monotonic()
    _log(local_server(settings).start())
    timings["emulator"] = round(time.monotonic() - started, 1)

    source = source_for(
        dump,
        site,
        item=settings.archive_item,
        base_url=settings.archive_base_url,
        sample_dir=SAMPLE_DIR,
    )
    try:
        with site_lock(settings, source.site, run_id, wait=wait, log=_log) as lock:
            return _locked_run(source, settings, run_id, run_dir, timings, lock.confirm_held)
    except StepFailed as failed:
        if local_server(settings).answers():
            raise
        raise StepFailed(
            failed.step,
            f"the S3 server at {settings.s3_endpoint} stopped answering; every table is at "
            "its last commit: start it with `make s3-start` and run again",
            failed.notebook,
        ) from None
    except USER_ERRORS:
        raise
    except Exception as error:
        run_dir.mkdir(parents=True, exist_ok=True)
        log = run_dir / "error.log"
        log.write_text(traceback.format_exc())
        raise RunFailed(f"{one_line(error)} (full trace: {log})") from None
    finally:
        # A run that failed before writing anything leaves no folder behind.
        if run_dir.is_dir() and not any(run_dir.iterdir()):
            run_dir.rmdir()


def _locked_run(source, settings, run_id: str, run_dir: Path, timings: dict, before_step) -> dict:
    started = time.monotonic()
    ingested = ingest_dump(source, settings, WORK_DIR)
    timings["ingest"] = round(time.monotonic() - started, 1)
    state = "already in the lake" if ingested.already_ingested else "ingested"
    _log(f"{ingested.site} dump {ingested.dump_id} {state} at {ingested.raw_uri}")
    if ingested.missing:
        _log(f"the dump has no {', '.join(ingested.missing)}; those tables are skipped")

    run_dir.mkdir(parents=True)
    with_work = steps_with_work(settings, ingested.site, ingested.dump_id)
    if with_work:
        _log(f"steps with new work: {', '.join(with_work)}")
        started = time.monotonic()
        with_spark(settings, _log)
        timings["spark server"] = round(time.monotonic() - started, 1)
        parameters = dict(
            zip(RUN_PARAMETERS, (ingested.site, ingested.dump_id, run_id), strict=True)
        )
        try:
            run_notebooks(parameters, run_dir, timings, before_step)
        except RunInterrupted as interrupted:  # The folder says what became of the run.
            stopped = {"interrupted": str(interrupted), "seconds": timings}
            _save_summary(run_dir, {**parameters, **stopped})
            raise
    else:
        _log(f"every step of {ingested.site} has run on this dump with this code: nothing to do")

    summary = {
        "run_id": run_id,
        "site": ingested.site,
        "dump_id": ingested.dump_id,
        "raw": ingested.raw_uri,
        "rows_in_dump": ingested.rows,
        **summarize_site(settings, ingested.site),
        "refresh": refresh_changes(settings, ingested.site, ingested.dump_id),
        "seconds": timings,
        "nothing_to_do": not with_work,
        "run_dir": str(run_dir),
    }
    report = run_dir / "report.html"
    report.write_text(build_report(settings, ingested.site, run_id, summary))
    summary["report"] = str(report)
    _save_summary(run_dir, summary)
    return summary


def _save_summary(run_dir: Path, summary: dict) -> None:
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))


def format_summary(summary: dict) -> str:
    lines = [
        f"Run {summary['run_id']}: {summary['site']} dump {summary['dump_id']}",
        "",
        "Rows per table:",
    ]
    lines += [
        f"  {name:34} {count if count is not None else '-':>10}"
        for name, count in summary["rows"].items()
    ]
    quality = summary["data_quality"]
    lines += [
        "",
        f"Data quality: {quality['posts_passed']} posts passed "
        f"({quality['posts_warned']} with warnings), {quality['posts_quarantined']} quarantined; "
        f"rejected at parse: {quality['rows_rejected_at_parse'] or 'none'}",
    ]
    failing = [r for r in quality["rules"] if r["failed_rows"]]
    lines += [f"  {r['criticality']:5} {r['rule']}: {r['failed_rows']} rows" for r in failing]
    refresh = summary.get("refresh")
    if refresh:
        lines += ["", f"Refresh: replaced dump {refresh['replaced_dump_id']}; rows per table:"]
        lines += [
            f"  {table:24} {counts.get('added', 0):>7} added {counts.get('changed', 0):>7} "
            f"changed {counts.get('deleted', 0):>7} deleted"
            for table, counts in refresh["rows"].items()
        ]
    if summary.get("new_attributes"):
        lines += ["", "Format change: attributes no schema knows, kept in _rescued_data:"]
        lines += [f"  {message}" for message in summary["new_attributes"]]
    lines += ["", "Top tags:"]
    lines += [f"  {t['tag']:24} {t['question_count']:>6} questions" for t in summary["top_tags"]]
    lines += ["", "Seconds per step:"]
    lines += [f"  {step:28} {seconds:>7}" for step, seconds in summary["seconds"].items()]
    if summary["nothing_to_do"]:
        lines += ["", "Nothing to do: every step has run on this dump with this code; no table"]
        lines += [f"changed and no notebook ran. summary.json: {summary['run_dir']}"]
    else:
        lines += ["", f"Executed notebooks and summary.json: {summary['run_dir']}"]
    lines += [f"Report (open in a browser): {summary['report']}"]
    return "\n".join(lines)
