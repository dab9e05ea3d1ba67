"""Profile: where the driver JVM's time goes during one one-read XML -> bronze.posts
load, by Java Flight Recorder's execution samples, in one warm in-process driver over a
private S3Proxy. Prints the share of samples under a few frames of the write, and the
hottest frames themselves. Run (INT96 shows the timestamps' cost before session 21):
`cd benchmarks && ../.venv/bin/python bronze_jfr.py --posts-mb 1024 --timestamps INT96`.
"""

import argparse
import collections
import re
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from run_benchmarks import SITE, generated_posts, private_s3_server, upload_raw, warm_up

from lakehouse.bronze.xml_to_bronze import DumpToLoad, load_dump_files
from lakehouse.lake import Lake
from worker.spark_session import build_local_session

# The JDK's tools, beside the `java` the local Spark runs on.
JDK_BIN = Path(shutil.which("java") or "java").resolve().parent

WATCHED = (
    "ParquetWriteSupport.write",
    "DictionaryValuesWriter$PlainFixedLenArrayDictionaryValuesWriter",
    "DictionaryValuesWriter$PlainBinaryDictionaryValuesWriter",
    "DictionaryValuesWriter$PlainLongDictionaryValuesWriter",
    "DeltaTaskStatisticsTracker",
    "PythonArrowOutput",
    "LineReader",
)


def recorded_load(posts: Path, timestamps: str, recording: Path) -> None:
    """One load of `posts` into a new site, recorded from its start to its end."""
    jcmd = str(JDK_BIN / "jcmd")
    with private_s3_server() as settings:
        spark = build_local_session(settings, app_name="bronze-jfr")
        spark.conf.set("spark.sql.parquet.outputTimestampType", timestamps)
        lake = Lake(spark, settings)
        warm_up(lake)
        dump_id = "2025-01-01-jfr00000"
        upload_raw(settings, posts, dump_id)
        driver = str(spark.sparkContext._jvm.ProcessHandle.current().pid())
        start = [jcmd, driver, "JFR.start", "name=bronze", "settings=profile"]
        subprocess.run([*start, f"filename={recording}"], check=True, capture_output=True)
        load_dump_files(DumpToLoad(lake, SITE, dump_id, datetime.now(UTC)), ["Posts.xml"])
        subprocess.run([jcmd, driver, "JFR.stop", "name=bronze"], check=True, capture_output=True)


def sampled_stacks(recording: Path) -> list[list[str]]:
    """Each execution sample's frames, innermost first."""
    jfr = str(JDK_BIN / "jfr")
    printed = subprocess.run(
        [jfr, "print", "--events", "jdk.ExecutionSample", "--stack-depth", "64", str(recording)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    events = printed.split("jdk.ExecutionSample")[1:]
    return [re.findall(r"^\s+([\w$.<>]+)\(", event, re.M) for event in events]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts-mb", type=int, default=1024)
    parser.add_argument("--timestamps", default="TIMESTAMP_MICROS")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bronze-jfr-") as scratch:
        recording = Path(scratch) / "bronze.jfr"
        recorded_load(generated_posts(args.posts_mb), args.timestamps, recording)
        stacks = sampled_stacks(recording)
    print(f"{len(stacks)} samples; timestamps {args.timestamps}\n\nunder a frame:")
    for frame in WATCHED:
        share = sum(any(frame in f for f in stack) for stack in stacks) / len(stacks)
        print(f"{share:6.1%}  {frame}")
    print("\nhottest frames (self):")
    hottest = collections.Counter(stack[0] for stack in stacks if stack)
    for frame, count in hottest.most_common(args.top):
        print(f"{count / len(stacks):6.1%}  {frame}")


if __name__ == "__main__":
    main()
