"""Profile: the time and the number of Spark jobs of each pipeline step, on a warm Spark
Connect server of its own (free ports, a throwaway folder). Three rounds: a first site
(cold), a second site (warm), and the first site's same dump again (nothing to do).

With `--refresh` the rounds are a quarterly refresh beside its reload: a first site
(cold), the site to refresh, its next quarter (rows added, edited and deleted), and that
quarter loaded alone into a new site, which gives the same tables (the reload). With
`--refresh --quiet` the next quarter differs in one file only: it adds the newest votes
(tests/integration/quiet_quarters.py); with `--refresh --real <archive>` the rounds load
a real dump cut at a date, then the dump itself.

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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path[:0] = [str(TESTS / "integration"), str(TESTS)]

import psutil  # noqa: E402
import py7zr  # noqa: E402
from pipeline_helpers import ingest_sample  # noqa: E402
from private_cluster import private_cluster  # noqa: E402
from quiet_quarters import quiet_quarters_before  # noqa: E402
from real_dump_helpers import EARLIER, pack_listed  # noqa: E402

from dump_generator.cut import CutSpec, cut_leaving, write_earlier_dump  # noqa: E402
from dump_generator.revision import RevisionSpec, write_dump_revision  # noqa: E402
from dump_generator.sample import SampleSpec, write_sample_dump  # noqa: E402
from lakehouse import steps  # noqa: E402
from lakehouse.graph import in_dependency_order  # noqa: E402
from lakehouse.lake import Lake  # noqa: E402
from lakehouse.steps import PIPELINE  # noqa: E402
from laptop.spark_connect_server import SparkConnectServer  # noqa: E402
from worker.ingest.ingest_dump import ingest_dump  # noqa: E402
from worker.ingest.raw_store import ensure_bucket, s3_client  # noqa: E402
from worker.ingest.sources import LocalArchive  # noqa: E402
from worker.spark_session import build_local_session  # noqa: E402


@dataclass(frozen=True)
class ServerWith(SparkConnectServer):
    """The project's server with extra Spark settings (KEY=VALUE), to profile one."""

    extra_conf: tuple[str, ...] = ()

    def command(self) -> list[str]:
        *command, last = super().command()
        return [*command, *(part for pair in self.extra_conf for part in ("--conf", pair)), last]


def finished_jobs(server: SparkConnectServer) -> int:
    """The Spark jobs the server has finished so far, as its log counts them."""
    return len(re.findall(r"Job \d+ finished", server.log_file.read_text(errors="replace")))


QUARTER = 91 * 86_400


def two_quarters(args, work: Path) -> tuple[Path, Path]:
    """The XML folders of a dump and its next quarter, by `--refresh`'s options: a real
    dump (`--real`) cut at a date, then itself; a quiet quarter (`--quiet`); or by
    default the generator's next quarter of the sample."""
    later = work / "later"
    if args.real:
        with py7zr.SevenZipFile(args.real) as packed:
            packed.extractall(later)
        cut = CutSpec(cut=cut_leaving(later, share=0.1))
        write_earlier_dump(later, work / "earlier", cut)
        return work / "earlier", later
    write_sample_dump(SampleSpec(site="q.example.com", questions=args.questions), later)
    if args.quiet:
        quarters = quiet_quarters_before(later, cut_leaving(later, share=0.15), work)
        earlier, next_quarter = (q.xml_dir for q in quarters if q.name != "older_access")
        return earlier, next_quarter
    write_dump_revision(later, work / "next", RevisionSpec())
    return later, work / "next"


def quarterly_rounds(
    settings, work: Path, quarters: tuple[Path, Path]
) -> list[tuple[str, Callable[[], str]]]:
    """(site, ingest) per round of `--refresh`: each ingest returns the dump id to load."""
    first, next_quarter = quarters

    def packed(site: str, xml_dir: Path, published: int) -> Callable[[], str]:
        def ingest() -> str:
            folder = work / "archives" / xml_dir.name / site
            archive = pack_listed(xml_dir, folder / f"{site}.7z", published)
            return ingest_dump(LocalArchive(archive), settings, work / "ingest").dump_id

        return ingest

    return [
        ("a.example.com", packed("a.example.com", first, EARLIER)),
        ("b.example.com", packed("b.example.com", first, EARLIER)),
        ("b.example.com", packed("b.example.com", next_quarter, EARLIER + QUARTER)),
        ("c.example.com", packed("c.example.com", next_quarter, EARLIER + QUARTER)),
    ]


def sample_rounds(settings, work: Path, questions: int) -> list[tuple[str, Callable[[], str]]]:
    """(site, ingest) per round: a first site, a second, the first's same dump again, a
    third."""

    def sample(site: str) -> Callable[[], str]:
        return lambda: ingest_sample(settings, work / site, site, questions=questions).dump_id

    return [
        ("a.example.com", sample("a.example.com")),
        ("b.example.com", sample("b.example.com")),
        ("a.example.com", lambda: ""),
        ("c.example.com", sample("c.example.com")),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument(
        "--whole", action="store_true", help="time each round as one steps.run_all call"
    )
    parser.add_argument("--parallel", type=int, default=1, help="steps at once, with --whole")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="4 adds a third site's first load; --refresh runs its 4",
    )
    parser.add_argument("--refresh", action="store_true", help="a refresh beside its reload")
    parser.add_argument("--quiet", action="store_true", help="with --refresh: one file changes")
    parser.add_argument("--real", type=Path, help="with --refresh: a real dump's archive")
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

        if args.refresh:
            chosen = quarterly_rounds(settings, work, two_quarters(args, work))
        else:
            chosen = sample_rounds(settings, work, args.questions)[: args.rounds]
        for number, (site, ingest) in enumerate(chosen):
            ctx = steps.run_context(lake, site, ingest())
            started, cells = time.monotonic(), []
            if args.whole:
                before = finished_jobs(server)
                steps.run_all(ctx, parallel=args.parallel)
                cells.append(f"run_all/{finished_jobs(server) - before}j")
            else:
                for task in in_dependency_order(PIPELINE):
                    before, step_started = finished_jobs(server), time.monotonic()
                    steps.STEPS[task.name](ctx)
                    seconds = time.monotonic() - step_started
                    cells.append(f"{task.name}={seconds:.1f}s/{finished_jobs(server) - before}j")
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
