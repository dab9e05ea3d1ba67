"""Profile: where the Databricks imitation's time goes, by the package's functions
(cumulative seconds, cProfile), on the warm local server. The lake's raw dump is reused:
`make local-run` first, then, on a server that has not imitated another bucket yet,
`LAKE_BUCKET=<new> .venv/bin/python benchmarks/imitation_profile.py --raw-root
s3a://stackexchange/raw`."""

import argparse
import cProfile
import pstats
import time

from dump_generator import SAMPLE_SITE
from lakehouse.settings import LakeSettings
from laptop.databricks_imitation import IMITATION_CATALOG, run_job
from worker.paths import NOTEBOOKS_DIR

PACKAGES = ("/notebooks/lakehouse/", "/env/laptop/", "/env/worker/")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw-root", required=True)
    parser.add_argument("--site", default=SAMPLE_SITE)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    job_values = {
        "site": args.site,
        "dump_id": "",
        "run_id": "",
        "catalog": IMITATION_CATALOG,
        "raw_root": args.raw_root,
    }
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    run_job(NOTEBOOKS_DIR, LakeSettings(), job_values, on_notebook=lambda name: None)
    profile.disable()
    print(f"imitation: {time.perf_counter() - start:.1f} s")
    rows = [
        (cumulative, calls, path.split("/")[-1], function)
        for (path, _, function), (_, calls, _, cumulative, _) in pstats.Stats(profile).stats.items()
        if any(package in path for package in PACKAGES)
    ]
    for cumulative, calls, module, function in sorted(rows, reverse=True)[: args.top]:
        print(f"{cumulative:7.2f} s {calls:5d} calls  {module}:{function}")


if __name__ == "__main__":
    main()
