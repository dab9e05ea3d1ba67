"""Benchmark: a dump in Stack Overflow's proportions, end to end on this machine.

For each `--gb` size it generates a dump of that many GB uncompressed, all eight files in
Stack Overflow's rows per post and bytes per row (dump_generator.sample.STACK_OVERFLOW), packs
it with Debian's 7-Zip (LZMA2, BCJ, the fast level: the published dumps use a slower
one, which decodes about as fast), and runs on a private S3 server and Spark Connect
server, one after another:
- ingest, streamed from the local archive (`lake ingest`'s path);
- every step of the graph, in order (`make local-run`'s steps).

Per stage it records the seconds, the rows written and rows per second, the peak resident
memory of each process (this client, the S3 server, the Spark server, its Python
workers), and the peak disk used beyond what the run started with (the machine's file
system: the S3 server's data, Spark's scratch, everything). The generated archives are
kept in data/bench/ for re-runs; the lakes are deleted after each size.

The baseline, in the same run on the same S3 server, is what a user would do instead of
ingest: `7zz x` to a folder, then boto3's managed upload (ingest_stream.py's, which
checks nothing). No other tool runs the whole pipeline offline to compare the rest with;
bronze's own baseline, Spark's XML reader at its strongest, is xml_readers.py.

Run: `.venv/bin/python benchmarks/scale_simulation.py --gb 1 4 10`.
"""

import argparse
import contextlib
import shutil
import subprocess
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from decoders import PUBLISHED_METHOD, SEVEN_ZIP
from ingest_stream import measure
from private_cluster import private_cluster
from pyspark.sql import SparkSession
from run_benchmarks import BENCH_DATA, machine

from dump_generator.sample import STACK_OVERFLOW, SampleSpec, write_sample_dump
from lakehouse import steps
from lakehouse.graph import in_dependency_order
from lakehouse.lake import Lake
from lakehouse.schemas import DUMP_TABLES
from lakehouse.steps import PIPELINE
from laptop.spark_connect_server import SparkConnectServer
from worker.ingest.ingest_dump import ingest_dump
from worker.ingest.sources import LocalArchive

SITE = "stackoverflow.example.com"
PROCESSES = ("client", "S3 server", "Spark server", "Python workers")


def simulated_dump(gigabytes: float) -> tuple[Path, int]:
    """The packed dump of that size (kept for re-runs), and its uncompressed bytes."""
    folder = BENCH_DATA / f"stackoverflow-{gigabytes:g}gb"
    archive = folder / f"{SITE}.7z"
    size_file = folder / "uncompressed-bytes"
    if not archive.exists():
        xml = folder / "xml"
        spec = SampleSpec(site=SITE, seed=7, proportions=STACK_OVERFLOW)
        write_sample_dump(spec, xml, target_dump_bytes=int(gigabytes * 10**9))
        files = [str(xml / name) for name in DUMP_TABLES]
        size_file.write_text(str(sum(Path(path).stat().st_size for path in files)))
        partial = folder / "partial.7z"
        pack = [SEVEN_ZIP, "a", "-bd", "-bso0", "-mx=1", *PUBLISHED_METHOD, str(partial)]
        subprocess.run([*pack, *files], check=True)
        partial.replace(archive)
        shutil.rmtree(xml)
    return archive, int(size_file.read_text())


@dataclass
class Peaks:
    """Samples memory and disk in a thread; `stage` names what is running."""

    pids: dict[str, int]
    disk_at_start: int = field(default_factory=lambda: psutil.disk_usage(str(BENCH_DATA)).used)
    stage: str = "start"
    memory: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    disk: dict[str, int] = field(default_factory=dict)
    _done: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        resident = {}
        for name in ("client", "S3 server", "Spark server"):
            resident[name] = 0
            with contextlib.suppress(psutil.Error):
                resident[name] = psutil.Process(self.pids[name]).memory_info().rss
        workers = 0
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.pids["Spark server"]).children(recursive=True):
                with contextlib.suppress(psutil.Error):  # a worker that just ended
                    workers += child.memory_info().rss
        resident["Python workers"] = workers
        stage_memory = self.memory[self.stage]
        for name, value in resident.items():
            stage_memory[name] = max(stage_memory.get(name, 0), value)
        used = psutil.disk_usage(str(BENCH_DATA)).used - self.disk_at_start
        self.disk[self.stage] = max(self.disk.get(self.stage, 0), used)

    def run(self) -> None:
        while not self._done.wait(0.5):
            self.sample()

    def __enter__(self) -> "Peaks":
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()


def rows_written(lake: Lake, names: tuple[str, ...]) -> int:
    """The site's rows in the step's own tables (the history tables aside)."""
    total = 0
    for name in names:
        if name.split(".")[1] in ("step_runs", "dump_loads", "row_lineage", "rejected_rows"):
            continue
        if lake.exists(name):
            total += lake.read(name).where(f"site = '{SITE}'").count()
    return total


def simulate(gigabytes: float) -> list[dict]:
    archive, size = simulated_dump(gigabytes)
    packed = archive.stat().st_size
    print(f"\n{gigabytes:g} GB: {size / 1e9:.2f} GB in eight files, {packed / 1e9:.2f} GB packed")
    work = Path(tempfile.mkdtemp(dir=BENCH_DATA, prefix="scale-"))
    settings, s3, port = private_cluster(work, "scale")
    server = SparkConnectServer(settings, work / "spark", port=port)
    s3.start()
    server.start()
    stages, spark = [], None
    try:
        pids = {
            "client": psutil.Process().pid,
            "S3 server": s3.process.running_pid(),
            "Spark server": server.process.running_pid(),
        }
        with Peaks(pids) as peaks:
            peaks.stage = "ingest"
            started = time.monotonic()
            ingested = ingest_dump(LocalArchive(archive), settings, work / "scratch")
            seconds = time.monotonic() - started
            stages.append(
                {
                    "stage": "ingest",
                    "seconds": seconds,
                    "rows": sum(ingested.rows.values()),
                    "bytes": size,
                }
            )
            print(f"  ingest {seconds:.1f}s", flush=True)
            # A session of its own, stopped below: getOrCreate would hand the next size
            # this size's session, still pointing at this size's server.
            spark = SparkSession.builder.remote(settings.spark_remote).create()
            lake = Lake(spark, settings)
            ctx = steps.run_context(lake, SITE, ingested.dump_id)
            for task in in_dependency_order(PIPELINE):
                peaks.stage = task.name
                started = time.monotonic()
                steps.STEPS[task.name](ctx)
                seconds = time.monotonic() - started
                peaks.stage = "counting"
                stages.append(
                    {
                        "stage": task.name,
                        "seconds": seconds,
                        "rows": rows_written(lake, task.writes),
                    }
                )
                print(f"  {task.name} {seconds:.1f}s", flush=True)
        for stage in stages:
            stage["memory"] = dict(peaks.memory[stage["stage"]])
            stage["disk"] = peaks.disk[stage["stage"]]
        seconds, memory, disk = measure("baseline", archive, settings, "baseline")
        stages.append(
            {
                "stage": "baseline for ingest: `7zz x` to disk, boto3's upload, no checks "
                "(its own process; disk: its scratch)",
                "baseline": True,
                "seconds": seconds,
                "rows": 0,
                "memory": {"client": memory},
                "disk": disk,
            }
        )
        speed = seconds / stages[0]["seconds"]
        print(f"  baseline {seconds:.1f}s; ingest runs at {speed:.2f}x its speed")
    except Exception:
        for log in (server.log_file, s3.log_file):  # the lake is deleted below
            print(f"--- the end of {log.name}:\n" + log.read_text(errors="replace")[-3000:])
        raise
    finally:
        if spark is not None:
            spark.stop()
        server.stop()
        s3.stop()
        shutil.rmtree(work, ignore_errors=True)
    return stages


def report(gigabytes: float, stages: list[dict]) -> None:
    total = sum(stage["seconds"] for stage in stages if not stage.get("baseline"))
    print(f"\n### {gigabytes:g} GB uncompressed: {total:.0f} s end to end\n")
    peaks = " | ".join(f"peak {name}" for name in PROCESSES)
    print(f"| stage | seconds | rows | rows/s | {peaks} | peak disk |")
    print("|---|---|---|---|" + "---|" * len(PROCESSES) + "---|")
    for stage in stages:
        memory = " | ".join(f"{stage['memory'].get(p, 0) / 2**20:,.0f} MB" for p in PROCESSES)
        rows = (
            f"{stage['rows']:,} | {stage['rows'] / stage['seconds']:,.0f}"
            if stage["rows"]
            else " | "
        )
        disk = f"{stage['disk'] / 1e9:.2f} GB"
        print(f"| {stage['stage']} | {stage['seconds']:.1f} | {rows} | {memory} | {disk} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gb", type=float, nargs="+", default=[1, 4, 10])
    args = parser.parse_args()
    print(f"Machine: {machine()}")
    for gigabytes in args.gb:
        report(gigabytes, simulate(gigabytes))


if __name__ == "__main__":
    main()
