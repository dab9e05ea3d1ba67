"""Profile: where the one-read XML -> bronze step's time goes beyond the write, by the
package's functions (cumulative seconds, cProfile, the median over rounds), in one warm
driver over a private S3Proxy, a new site per round (each a site's first load). Run:
`cd benchmarks && ../.venv/bin/python bronze_profile.py --posts-mb 1024 --rounds 3`.
"""

import argparse
import cProfile
import pstats
import statistics
import time
from datetime import UTC, datetime

from run_benchmarks import SITE, generated_posts, machine, private_s3_server, upload_raw, warm_up

from lakehouse.bronze.xml_to_bronze import DumpToLoad, load_dump_files
from lakehouse.lake import Lake
from worker.spark_session import build_local_session

PACKAGE = "/notebooks/lakehouse/"


def profiled_load(lake: Lake, site: str, dump_id: str) -> tuple[float, dict[str, float]]:
    """The step's seconds, and the cumulative seconds of each of the package's functions."""
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    load_dump_files(DumpToLoad(lake, site, dump_id, datetime.now(UTC)), ["Posts.xml"])
    profile.disable()
    seconds = time.perf_counter() - started
    functions = {
        f"{path.split('/')[-1]}:{function}": cumulative
        for (path, _, function), (_, _, _, cumulative, _) in pstats.Stats(profile).stats.items()
        if PACKAGE in path
    }
    return seconds, functions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    posts = generated_posts(args.posts_mb)
    dump_id = "2025-01-01-profile00"
    with private_s3_server() as settings:
        lake = Lake(build_local_session(settings, app_name="bronze-profile"), settings)
        warm_up(lake)
        steps, per_function = [], {}
        for round_number in range(1, args.rounds + 1):
            site = f"p{round_number}.{SITE}"
            size = upload_raw(settings, posts, dump_id, site=site)
            seconds, functions = profiled_load(lake, site, dump_id)
            steps.append(seconds)
            for name, cumulative in functions.items():
                per_function.setdefault(name, []).append(cumulative)
    step = statistics.median(steps)
    print(f"Machine: {machine()}; {size / 1e6:,.0f} MB Posts.xml; {args.rounds} rounds")
    print(f"step: {' '.join(f'{s:.2f}' for s in steps)} s; median {step:.2f} s, ", end="")
    print(f"{size / 1e6 / step:.1f} MB/s\n")
    medians = {name: statistics.median(values) for name, values in per_function.items()}
    for name, seconds in sorted(medians.items(), key=lambda item: -item[1])[: args.top]:
        print(f"{seconds:7.2f} s  {name}")


if __name__ == "__main__":
    main()
