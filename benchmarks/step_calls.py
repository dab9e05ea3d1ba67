"""Profile: every Spark Connect round trip a pipeline run makes, timed and grouped by the
line of the package that made it, on a server of its own (free ports, a throwaway
folder). Three sites are loaded one after another; the table is the last, warm one,
a new site of a lake (or with `--new-lake-per-site`, a new lake's first load).

A profile, not a benchmark: compare two commits by running it on each. Run:
`.venv/bin/python benchmarks/step_calls.py --questions 40`.
"""

import argparse
import sys
import time
import traceback
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))

from pipeline_helpers import ingest_sample  # noqa: E402
from private_cluster import private_spark  # noqa: E402
from pyspark.sql.connect.client import core  # noqa: E402

from lakehouse import steps  # noqa: E402
from lakehouse.graph import in_dependency_order  # noqa: E402
from lakehouse.lake import Lake  # noqa: E402
from lakehouse.steps import PIPELINE
from worker.ingest.raw_store import ensure_bucket, s3_client  # noqa: E402

# The client's calls that reach the server: plans run, commands run, plans analysed.
ROUND_TRIPS = ("_execute_and_fetch", "_analyze")
calls: dict[str, list] = defaultdict(lambda: [0, 0.0])


def _caller(depth: int) -> str:
    """The package's `depth` innermost frames on the stack, innermost first."""
    frames = [
        f"{Path(frame.filename).stem}:{frame.lineno} {frame.name}"
        for frame in reversed(traceback.extract_stack()[:-3])
        if "/lakehouse/" in frame.filename
    ]
    return " < ".join(frames[:depth]) or "(outside the package)"


def _timed(method, depth: int):
    def call(self, *args, **kwargs):
        started = time.monotonic()
        try:
            return method(self, *args, **kwargs)
        finally:
            entry = calls[f"{method.__name__:20s} {_caller(depth)}"]
            entry[0] += 1
            entry[1] += time.monotonic() - started

    return call


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--depth", type=int, default=1, help="the package's frames per call")
    parser.add_argument(
        "--new-lake-per-site",
        action="store_true",
        help="each site in a bucket of its own: the last is a new lake's first load",
    )
    args = parser.parse_args()
    for name in ROUND_TRIPS:
        setattr(
            core.SparkConnectClient,
            name,
            _timed(getattr(core.SparkConnectClient, name), args.depth),
        )
    with private_spark("step-calls-", "profile") as (settings, spark, work):
        for site in ("a.example.com", "b.example.com", "c.example.com"):
            if args.new_lake_per_site:
                settings = settings.model_copy(update={"bucket": f"lake-{site.split('.')[0]}"})
            ensure_bucket(s3_client(settings), settings.bucket)
            lake = Lake(spark, settings)
            ingest_sample(settings, work / site, site, questions=args.questions)
            ctx = steps.run_context(lake, site)
            calls.clear()
            started = time.monotonic()
            for task in in_dependency_order(PIPELINE):
                steps.STEPS[task.name](ctx)
            print(f"{site}: {time.monotonic() - started:.1f} s", flush=True)
        total = sum(count for count, _ in calls.values())
        print(f"last site: {total} round trips, {sum(s for _, s in calls.values()):.1f} s")
        for where, (count, seconds) in sorted(calls.items(), key=lambda kv: -kv[1][1])[: args.top]:
            print(f"{seconds:7.2f} s {count:4d}  {where}")


if __name__ == "__main__":
    main()
