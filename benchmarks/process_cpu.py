"""Profile: the CPU seconds each kind of process spends while a command runs (the Spark
Connect server, S3Proxy, kernels, Airflow's components and task processes, Chromium...),
short-lived processes included: /proc is read twice a second, so a process that lives
less than that is missed. Every process of the machine counts, so run nothing else.

A profile, not a benchmark. Run, e.g. for the Airflow flow:
`.venv/bin/python benchmarks/process_cpu.py -- .venv/bin/pytest -q -p no:randomly
tests/integration/test_airflow_scheduler.py -k producer_to_gold`.
"""

import argparse
import os
import re
import subprocess
import time
from collections import Counter

TICKS = os.sysconf("SC_CLK_TCK")
# The first pattern a command line matches names its kind; the rest are "other".
KINDS = (
    ("spark server", r"SparkConnectServer"),
    ("s3proxy", r"s3proxy"),
    ("spark cluster", r"org\.apache\.spark\.deploy"),
    ("pytest", r"bin/pytest|xdist"),
    ("kernel", r"ipykernel| -f \S+\.json"),
    ("pyspark worker", r"pyspark\.(daemon|worker)"),
    ("chromium", r"chrom"),
    ("airflow component", r"airflow (api-server|scheduler|dag-processor|triggerer)"),
    ("airflow task", r"airflow"),
    ("other java", r"java"),
    ("other python", r"python"),
)


def kind_of(command: str) -> str:
    return next((kind for kind, pattern in KINDS if re.search(pattern, command)), "other")


def shortened(command: str) -> str:
    """A command line cut to what tells processes of one kind apart: a JVM's main class
    and its last arguments, or another command's first 160 characters."""
    java = re.search(r"\s(org\.apache\.\S+|-jar \S+)(.*)", command)
    if java:
        return f"java {java.group(1)}{java.group(2)[-100:]}"
    return command[:160]


def cpu_by_process() -> dict[int, tuple[str, float, str]]:
    """Each live process: its kind, its CPU seconds so far and its command line."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat, open(f"/proc/{entry}/cmdline", "rb") as cmd:
                fields = stat.read().rsplit(")", 1)[1].split()
                command = cmd.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if command:  # kernel threads have none
            seconds = (int(fields[11]) + int(fields[12])) / TICKS
            found[int(entry)] = (kind_of(command), seconds, command)
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--top", type=int, default=0, help="also list the N costliest processes")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="after --")
    args = parser.parse_args()
    command = [part for part in args.command if part != "--"]
    before = {pid: seconds for pid, (_, seconds, _) in cpu_by_process().items()}
    last: dict[int, tuple[str, float, str]] = {}
    started = time.monotonic()
    running = subprocess.Popen(command)
    while running.poll() is None:
        last.update(cpu_by_process())
        time.sleep(0.5)
    wall = time.monotonic() - started
    by_process = {
        pid: (seconds - before.get(pid, 0.0), cmdline)
        for pid, (_, seconds, cmdline) in last.items()
    }
    spent: Counter[str] = Counter()
    for pid, (kind, _, _) in last.items():
        spent[kind] += by_process[pid][0]
    print(f"exit {running.returncode}, {wall:.1f} s wall, {sum(spent.values()):.1f} s CPU:")
    for kind, seconds in spent.most_common():
        print(f"{seconds:8.1f} s  {kind}")
    costliest = sorted(by_process.items(), key=lambda item: -item[1][0])[: args.top]
    for pid, (seconds, cmdline) in costliest:
        print(f"{seconds:8.1f} s  {pid}  {shortened(cmdline)}")


if __name__ == "__main__":
    main()
