"""Running the pipeline in-process over a generated or hand-made dump."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dump_generator.sample import SampleSpec
from lakehouse import steps
from lakehouse.graph import RUN_PARAMETERS, in_dependency_order
from lakehouse.raw_layout import DUPLICATED_IDS
from lakehouse.steps import PIPELINE, TABLES
from lakehouse.table_locations import LOGICAL_NAME
from worker.ingest.ingest_dump import ingest_dump
from worker.ingest.row_ids import DuplicateIds
from worker.ingest.sources import GeneratedSample
from worker.lake_summary import delta_rs_versions, site_row_count

# The site the `piped_site` fixture (tests/conftest.py) takes through the pipeline.
PIPED_SITE = "pipeline.example.com"


def ingest_sample(settings, work: Path, site: str, questions: int = 60):
    source = GeneratedSample(SampleSpec(site=site, questions=questions), work / "sample")
    return ingest_dump(source, settings, work / "work")


def put_raw_dump(
    s3, settings, site: str, dump_id: str, files: dict[str, str], ingest_facts: bool = False
) -> None:
    """Place XML files and their manifest in raw, as ingest would (for bad-input tests).
    Without `ingest_facts` the manifest lacks each file's size and duplicated Ids, as
    manifests did before ingest recorded them, and bronze takes its own census."""
    prefix = f"raw/{site}/{dump_id}"
    for name, text in files.items():
        s3.put_object(Bucket=settings.bucket, Key=f"{prefix}/{name}", Body=text.encode())
    rows = {
        name: sum(line.strip().startswith("<row") for line in text.splitlines())
        for name, text in files.items()
    }
    manifest = {"site": site, "dump_id": dump_id, "rows": rows, "missing": [], "sha1": {}}
    if ingest_facts:
        manifest["bytes"] = {name: len(text.encode()) for name, text in files.items()}
        found = {name: duplicated_ids(text) for name, text in files.items()}
        manifest[DUPLICATED_IDS] = {
            name: sorted(ids.items()) for name, ids in found.items() if ids is not None
        }
    s3.put_object(Bucket=settings.bucket, Key=f"{prefix}/manifest.json", Body=json.dumps(manifest))


def duplicated_ids(text: str) -> dict[int, int] | None:
    finder = DuplicateIds()
    for line in text.splitlines():
        if line.strip().startswith("<row"):
            finder.add(line.strip().encode())
    return finder.duplicated()


def versions(lake) -> dict[str, int]:
    """Each existing table's newest commit, read with delta-rs: another engine than the
    one that wrote them, and no Spark job per table."""
    found = delta_rs_versions(lake.settings, TABLES)
    return {name: version for name, version in found.items() if version is not None}


def site_counts(lake, site: str) -> dict[str, int]:
    """Each existing table's rows of `site`, read with delta-rs."""
    counts = {name: site_row_count(lake.settings, name, site) for name in TABLES}
    return {name: rows for name, rows in counts.items() if rows is not None}


@contextmanager
def reads_recorded(lake) -> Iterator[set[str]]:
    """The tables read through `lake` while the block runs: by `Lake.read`, and by their
    logical names in `Lake.sql`."""
    read: set[str] = set()
    read_table, run_sql = lake.read, lake.sql

    def recording_read(name, version=None):
        read.add(name)
        return read_table(name, version)

    def recording_sql(query):
        read.update(LOGICAL_NAME.findall(query))
        return run_sql(query)

    lake.read, lake.sql = recording_read, recording_sql
    try:
        yield read
    finally:
        del lake.read, lake.sql  # the class's methods again


def run_pipeline(lake, site: str, dump_id: str = "", tracks_changes: bool = False):
    """Every step in graph order, in this process, each checked to read only the tables
    the graph says it reads or writes (a step compares with what it wrote before)."""
    ctx = steps.run_context(lake, site, dump_id, tracks_changes=tracks_changes)
    for task in in_dependency_order(PIPELINE):
        with reads_recorded(lake) as read:
            steps.STEPS[task.name](ctx)
        undeclared = read - set(task.reads) - set(task.writes)
        assert not undeclared, f"{task.name} read {sorted(undeclared)}, not declared in steps.py"
    return ctx


def committed_versions(lake_dir: Path, bucket: str) -> dict[str, int]:
    """Each table's newest commit, read from its Delta log on the S3 server's disk."""
    return {
        f"{log.parent.parent.name}.{log.parent.name}": max(int(p.stem) for p in log.glob("*.json"))
        for log in (lake_dir / bucket).glob("*/*/_delta_log")
    }


def run_notebooks_checking_writes(lake, lake_dir: Path, site: str, dump_id: str, run_dir: Path):
    """The pipeline as `make local-run` runs it: every notebook in graph order, with the
    run's parameters, in one kernel. Each must commit, and only to the tables the graph
    says it writes (lakehouse/steps.py), the one list Airflow's Assets come from."""
    from laptop.local_run import new_run_id
    from laptop.shared_kernel import SharedKernel
    from worker.error_lines import NotebookFailed
    from worker.paths import NOTEBOOKS_DIR

    parameters = dict(zip(RUN_PARAMETERS, (site, dump_id, new_run_id()), strict=True))
    run_dir.mkdir(parents=True, exist_ok=True)
    with SharedKernel(NOTEBOOKS_DIR) as kernel:
        for task in in_dependency_order(PIPELINE):
            before = committed_versions(lake_dir, lake.settings.bucket)
            executed = run_dir / f"{task.name}.ipynb"
            try:
                kernel.run(NOTEBOOKS_DIR / f"{task.name}.ipynb", executed, parameters)
            except NotebookFailed as failed:
                raise AssertionError(f"{task.name}: {failed.first_line} ({executed})") from None
            after = committed_versions(lake_dir, lake.settings.bucket)
            written = {name for name, version in after.items() if before.get(name) != version}
            undeclared = written - set(task.writes)
            assert not undeclared, (
                f"{task.name} wrote {sorted(undeclared)}, not declared in steps.py"
            )
            assert written, f"{task.name} committed nothing on a site's first load"
