"""Benchmark: how long the lab's lake kernel takes from start to a query's answer, on a
warm Spark Connect server of its own (free ports, a throwaway folder), beside what a
user would start instead: a plain Python kernel that connects to the same server by
hand, and a plain kernel that builds an in-process Spark with Delta (no server).

Each round starts each kernel once, in turn, and times start -> first answer of
`SELECT 1`. Run: `.venv/bin/python benchmarks/lab_kernel_start.py --rounds 3`.
"""

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from jupyter_client.manager import start_new_kernel  # noqa: E402
from private_cluster import private_cluster  # noqa: E402

from lakehouse.settings import environment_set  # noqa: E402
from laptop.lab import KERNEL_NAME, install_kernel  # noqa: E402
from laptop.spark_connect_server import SparkConnectServer  # noqa: E402

QUERY = "SELECT 1 AS one"
KERNELS = {
    "lake kernel (the lab's)": (KERNEL_NAME, f"lake.sql({QUERY!r}).collect()"),
    "plain kernel, connecting by hand": (
        "python3",
        "from pyspark.sql import SparkSession\n"
        "spark = SparkSession.builder.remote(os.environ['LAKE_SPARK_REMOTE']).getOrCreate()\n"
        f"spark.sql({QUERY!r}).collect()",
    ),
    "plain kernel, in-process Delta Spark": (
        "python3",
        "os.environ.pop('LAKE_SPARK_REMOTE')\n"
        "from worker.spark_session import build_local_session\n"
        f"build_local_session().sql({QUERY!r}).collect()",
    ),
}


def seconds_to_answer(kernel_name: str, code: str) -> float:
    started = time.monotonic()
    manager, client = start_new_kernel(kernel_name=kernel_name, startup_timeout=120)
    try:
        reply = client.execute_interactive(f"import os\n{code}", timeout=300)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"{kernel_name}: {reply['content'].get('evalue')}")
        return time.monotonic() - started
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lab-kernel-start-"))
    settings, s3, port = private_cluster(work, "lab-kernel")
    server = SparkConnectServer(settings, work / "spark", port=port)
    install_kernel(work / "jupyter")
    s3.start()
    server.start()
    times: dict[str, list[float]] = {name: [] for name in KERNELS}
    try:
        environment = {**settings.environment(), "JUPYTER_PATH": str(work / "jupyter")}
        with environment_set(environment):
            for _ in range(args.rounds):
                for name, (kernel_name, code) in KERNELS.items():
                    times[name].append(seconds_to_answer(kernel_name, code))
    finally:
        server.stop()
        s3.stop()
    print(f"Machine: {platform.platform()}, {os.cpu_count()} cores; {args.rounds} rounds\n")
    print("| kernel | start to first answer, median s | each round, s |")
    print("|---|---|---|")
    for name, seconds in times.items():
        each = ", ".join(f"{s:.1f}" for s in seconds)
        print(f"| {name} | {statistics.median(seconds):.1f} | {each} |")


if __name__ == "__main__":
    main()
