"""Profile: the time and the number of Spark jobs of each pipeline step, on a warm Spark
Connect server of its own (free ports, a throwaway folder). Three rounds: a first site
(cold), a second site (warm), and the first site's same dump again (nothing to do).

A profile, not a benchmark: it has no baseline of its own; compare two commits, or two
settings, by running it on each. Run: `.venv/bin/python benchmarks/step_jobs.py
--questions 40`. `--whole --parallel 3` times each round as one `steps.run_all` with up
to three steps at once; `--java-options` and `--conf KEY=VALUE` start the server with
other JVM flags or Spark settings; each round prints the server's CPU seconds so far
(the machine is CPU-bound, so these vary less than the wall time).
"""

import argparse
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

import psutil  # noqa: E402
from pipeline_helpers import ingest_sample  # noqa: E402
from private_cluster import private_cluster  # noqa: E402

from ingest.raw_store import ensure_bucket, s3_client  # noqa: E402
from lakehouse import steps  # noqa: E402
from lakehouse.graph import in_dependency_order  # noqa: E402
from lakehouse.lake import Lake  # noqa: E402
from localenv.spark_connect_server import SparkConnectServer  # noqa: E402
from localenv.spark_session import build_local_session  # noqa: E402


@dataclass(frozen=True)
class ServerWith(SparkConnectServer):
    """The project's server with extra Spark settings (KEY=VALUE), to profile one."""

    extra_conf: tuple[str, ...] = ()

    def command(self) -> list[str]:
        *command, last = super().command()
        return [*command, *(part for pair in self.extra_conf for part in ("--conf", pair)), last]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument(
        "--whole", action="store_true", help="time each round as one steps.run_all call"
    )
    parser.add_argument("--parallel", type=int, default=1, help="steps at once, with --whole")
    parser.add_argument("--rounds", type=int, default=3, help="4 adds a third site's first load")
    parser.add_argument("--java-options", default="", help="the server's JVM flags")
    parser.add_argument("--conf", action="append", default=[], help="KEY=VALUE for the server")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="step-jobs-"))
    settings, s3, port = private_cluster(work, "profile", spark_java_options=args.java_options)
    server = ServerWith(settings, work / "spark", port=port, extra_conf=tuple(args.conf))
    s3.start()
    server.start()
    try:
        ensure_bucket(s3_client(settings), settings.bucket)
        lake = Lake(build_local_session(settings), settings)

        def jobs() -> int:
            return len(re.findall(r"Job \d+ finished", server.log_file.read_text(errors="replace")))

        sites = ["a.example.com", "b.example.com", "a.example.com", "c.example.com"]
        for number, site in enumerate(sites[: args.rounds]):
            if number != 2:  # Round 2 is the first site's same dump again.
                ingest_sample(settings, work / site, site, questions=args.questions)
            ctx = steps.run_context(lake, site)
            started, cells = time.monotonic(), []
            if args.whole:
                before = jobs()
                steps.run_all(ctx, parallel=args.parallel)
                cells.append(f"run_all/{jobs() - before}j")
            else:
                for task in in_dependency_order():
                    before, step_started = jobs(), time.monotonic()
                    steps.STEPS[task.notebook](ctx)
                    seconds = time.monotonic() - step_started
                    cells.append(f"{task.notebook}={seconds:.1f}s/{jobs() - before}j")
            seconds = time.monotonic() - started
            cpu = psutil.Process(server.process.running_pid()).cpu_times()
            print(
                f"{site} round {number}: {seconds:.1f}s, server CPU so far "
                f"{cpu.user + cpu.system:.1f}s  " + " ".join(cells)
            )
    finally:
        server.stop()
        s3.stop()


if __name__ == "__main__":
    main()
