"""`make local-run`: bring the emulator up, ingest a dump, run the notebooks in graph
order with papermill, and print and save the run's summary."""

import json
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from lakehouse.graph import RUN_PARAMETERS, in_dependency_order
from lakehouse.ingest.ingest_dump import ingest_dump
from lakehouse.ingest.sources import source_for
from lakehouse.settings import LakeSettings
from localenv.lake_summary import summarize_site
from localenv.paths import NOTEBOOKS_DIR, RUNS_DIR, SAMPLE_DIR, WORK_DIR
from localenv.report import build_report
from localenv.s3_server import local_server
from localenv.shared_kernel import NotebookFailed, SharedKernel


class StepFailed(RuntimeError):
    pass


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_notebooks(parameters: dict[str, str], run_dir: Path, timings: dict[str, float]) -> None:
    """Every notebook of the graph, in order, in one kernel (one Spark start per run)."""
    tasks = in_dependency_order()
    with SharedKernel(NOTEBOOKS_DIR) as kernel:
        for number, task in enumerate(tasks, start=1):
            output = run_dir / f"{task.notebook}.ipynb"
            _log(f"[{number}/{len(tasks)}] {task.notebook} ...")
            started = time.monotonic()
            try:
                kernel.run(NOTEBOOKS_DIR / f"{task.notebook}.ipynb", output, parameters)
            except NotebookFailed as error:
                first_line = (error.evalue or "").splitlines()[:1]
                raise StepFailed(
                    f"step {task.notebook} failed: {error.ename}: {''.join(first_line)}"
                    f" (saved notebook: {output})"
                ) from None
            timings[task.notebook] = round(time.monotonic() - started, 1)
            _log(f"[{number}/{len(tasks)}] {task.notebook} done in {timings[task.notebook]}s")


def local_run(dump: str | None, site: str | None, settings: LakeSettings) -> dict:
    run_id = new_run_id()
    run_dir = RUNS_DIR / run_id
    run_dir.mkdir(parents=True)
    timings: dict[str, float] = {}

    started = time.monotonic()
    _log(local_server(settings).start())
    timings["emulator"] = round(time.monotonic() - started, 1)

    started = time.monotonic()
    source = source_for(
        dump,
        site,
        item=settings.archive_item,
        base_url=settings.archive_base_url,
        sample_dir=SAMPLE_DIR,
    )
    ingested = ingest_dump(source, settings, WORK_DIR)
    timings["ingest"] = round(time.monotonic() - started, 1)
    state = "already in the lake" if ingested.already_ingested else "ingested"
    _log(f"{ingested.site} dump {ingested.dump_id} {state} at {ingested.raw_uri}")
    if ingested.missing:
        _log(f"the dump has no {', '.join(ingested.missing)}; those tables are skipped")

    parameters = dict(zip(RUN_PARAMETERS, (ingested.site, ingested.dump_id, run_id), strict=True))
    run_notebooks(parameters, run_dir, timings)

    summary = {
        "run_id": run_id,
        "site": ingested.site,
        "dump_id": ingested.dump_id,
        "raw": ingested.raw_uri,
        "rows_in_dump": ingested.rows,
        **summarize_site(settings, ingested.site),
        "seconds": timings,
        "run_dir": str(run_dir),
    }
    report = run_dir / "report.html"
    report.write_text(build_report(settings, ingested.site, run_id, summary))
    summary["report"] = str(report)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


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
    if summary.get("new_attributes"):
        lines += ["", "Format change: attributes no schema knows, kept in _rescued_data:"]
        lines += [f"  {message}" for message in summary["new_attributes"]]
    lines += ["", "Top tags:"]
    lines += [f"  {t['tag']:24} {t['question_count']:>6} questions" for t in summary["top_tags"]]
    lines += ["", "Seconds per step:"]
    lines += [f"  {step:28} {seconds:>7}" for step, seconds in summary["seconds"].items()]
    lines += ["", f"Executed notebooks and summary.json: {summary['run_dir']}"]
    lines += [f"Report (open in a browser): {summary['report']}"]
    return "\n".join(lines)
