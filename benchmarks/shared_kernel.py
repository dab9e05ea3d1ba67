"""Benchmark: the medallion notebooks of one run, each in its own kernel (papermill, a
Spark start per notebook: the runner before) against all in one shared kernel (the
runner now, laptop.shared_kernel), alternating rounds so machine noise hits both.

Needs the sample in the local lake (`make local-run` once); re-runs of the same dump
write nothing, so every round does the same work. Run:
`.venv/bin/python benchmarks/shared_kernel.py --rounds 2`. Prints a Markdown table.
"""

import argparse
import os
import platform
import statistics
import sys
import time

import papermill

from dump_generator import SAMPLE_SITE
from lakehouse.graph import in_dependency_order
from lakehouse.settings import LakeSettings
from lakehouse.steps import PIPELINE
from laptop.shared_kernel import SharedKernel
from worker.paths import NOTEBOOKS_DIR, RUNS_DIR
from worker.s3_server import local_server

PARAMETERS = {"site": SAMPLE_SITE, "dump_id": "", "run_id": "bench"}
OUTPUT = RUNS_DIR / "bench-shared-kernel"


def kernel_per_notebook() -> float:
    started = time.monotonic()
    for task in in_dependency_order(PIPELINE):
        papermill.execute_notebook(
            NOTEBOOKS_DIR / f"{task.name}.ipynb",
            OUTPUT / f"{task.name}.ipynb",
            parameters=PARAMETERS,
            kernel_name="python3",
            cwd=str(NOTEBOOKS_DIR),
            progress_bar=False,
        )
    return time.monotonic() - started


def one_shared_kernel() -> float:
    started = time.monotonic()
    with SharedKernel(NOTEBOOKS_DIR) as kernel:
        for task in in_dependency_order(PIPELINE):
            source = NOTEBOOKS_DIR / f"{task.name}.ipynb"
            kernel.run(source, OUTPUT / f"{task.name}.ipynb", PARAMETERS)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(local_server(LakeSettings()).start(), file=sys.stderr)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    times = {"kernel per notebook": [], "one shared kernel": []}
    for _ in range(args.rounds):
        times["kernel per notebook"].append(kernel_per_notebook())
        times["one shared kernel"].append(one_shared_kernel())
    before, after = (statistics.median(t) for t in times.values())
    print(f"Machine: {platform.platform()}, {os.cpu_count()} cores; {args.rounds} rounds, median s")
    print("\n| runner | 8 notebooks, s | ratio |\n|---|---|---|")
    print(f"| kernel per notebook (before) | {before:.1f} | 1.00x |")
    print(f"| one shared kernel (now) | {after:.1f} | {before / after:.2f}x |")


if __name__ == "__main__":
    main()
