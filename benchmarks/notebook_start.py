"""Benchmark: one notebook's wall time with the default JVM and with quick-start flags
(C1-only JIT, serial GC), alternating runs so machine noise hits both alike.

Needs the sample in the local lake (`make local-run` once). Run:
`.venv/bin/python benchmarks/notebook_start.py --rounds 3`. Prints a Markdown table.
"""

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

from dump_generator import SAMPLE_SITE
from lakehouse.settings import LakeSettings
from worker.paths import NOTEBOOKS_DIR, RUNS_DIR
from worker.s3_server import local_server

QUICK_START = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
NOTEBOOKS = ("silver_users", "bronze_posts")


def run_notebook(notebook: str, java_options: str) -> float:
    output = RUNS_DIR / "bench-notebook-start" / f"{notebook}.ipynb"
    output.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LAKE_SPARK_JAVA_OPTIONS": java_options}
    command = [
        sys.executable,
        "-m",
        "papermill",
        "-k",
        "python3",
        "--cwd",
        str(NOTEBOOKS_DIR),
        str(NOTEBOOKS_DIR / f"{notebook}.ipynb"),
        str(output),
        "-p",
        "site",
        SAMPLE_SITE,
    ]
    started = time.monotonic()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(local_server(LakeSettings()).start(), file=sys.stderr)
    times = {(nb, label): [] for nb in NOTEBOOKS for label in ("default", "quick-start")}
    for _ in range(args.rounds):
        for notebook in NOTEBOOKS:
            times[(notebook, "default")].append(run_notebook(notebook, ""))
            times[(notebook, "quick-start")].append(run_notebook(notebook, QUICK_START))
    print(f"Machine: {platform.platform()}, {os.cpu_count()} cores; {args.rounds} rounds, median s")
    print("\n| notebook | default JVM | quick-start JVM | ratio |\n|---|---|---|---|")
    for notebook in NOTEBOOKS:
        default = statistics.median(times[(notebook, "default")])
        quick = statistics.median(times[(notebook, "quick-start")])
        print(f"| {notebook} | {default:.1f} | {quick:.1f} | {default / quick:.2f}x |")


if __name__ == "__main__":
    main()
