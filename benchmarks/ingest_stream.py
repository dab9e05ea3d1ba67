"""Benchmark: ingest of a generated dump, streamed, beside extracting it and uploading it.

The generated dump of `make benchmark` (all eight tables, Posts.xml of `--posts-mb`) is
packed as the published dumps are (BCJ + LZMA2:24, by Debian's 7-Zip) and ingested
from the local archive into a private S3Proxy:
- `lake ingest`'s own path, streamed, with each decoder (`LAKE_ARCHIVE_DECODER`);
- the baseline a user would run by hand instead: `7zz x` to a folder, then boto3's
  managed upload of each file (10 threads, 8 MB parts), with no checks at all.
Each run is a process of its own: its peak resident memory comes from GNU time, and the
scratch folder's peak size from polling it every 0.2 s. Rounds alternate the setups.
Run: `.venv/bin/python benchmarks/ingest_stream.py --posts-mb 1024 --rounds 2`.
"""

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from decoders import PUBLISHED_METHOD, SEVEN_ZIP
from run_benchmarks import BENCH_DATA, generated_posts, machine, private_s3_server

from lakehouse.schemas import DUMP_TABLES

SITE = "bench.example.com"
SETUPS = {
    "baseline: `7zz x` to disk, then boto3's managed upload": "baseline",
    "`lake ingest`, streamed, 7-Zip": "7zz",
    "`lake ingest`, streamed, py7zr": "py7zr",
}


def packed_dump(posts: Path) -> Path:
    """The generated dump's eight files in `<site>.7z`, kept for re-runs."""
    archive = posts.parent / "archive" / f"{SITE}.7z"
    if not archive.exists():
        archive.parent.mkdir(exist_ok=True)
        files = [str(posts.parent / name) for name in DUMP_TABLES]
        subprocess.run([SEVEN_ZIP, "a", "-bd", "-bso0", *PUBLISHED_METHOD, str(archive), *files])
    return archive


def child(setup: str, archive: Path, scratch: Path) -> None:
    """One ingest, in this process (settings from the environment)."""
    from lakehouse.settings import LakeSettings
    from worker.ingest.raw_store import ensure_bucket, s3_client

    settings = LakeSettings()
    if setup != "baseline":
        from worker.ingest.ingest_dump import ingest_dump
        from worker.ingest.sources import LocalArchive

        chosen = settings.model_copy(update={"archive_decoder": setup})
        ingest_dump(LocalArchive(archive), chosen, scratch)
        return
    from boto3.s3.transfer import TransferConfig

    folder = scratch / "extracted"
    subprocess.run([SEVEN_ZIP, "x", "-bd", "-bso0", f"-o{folder}", str(archive)], check=True)
    s3 = s3_client(settings)
    ensure_bucket(s3, settings.bucket)
    config = TransferConfig(multipart_chunksize=8 << 20, max_concurrency=10)
    for path in sorted(folder.iterdir()):
        s3.upload_file(str(path), settings.bucket, f"raw/{SITE}/{path.name}", Config=config)


def folder_size(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(FileNotFoundError):  # deleted while we looked
                total += (Path(root) / name).stat().st_size
    return total


def measure(setup: str, archive: Path, settings, bucket: str) -> tuple[float, int, int]:
    """Seconds, peak resident bytes and peak scratch bytes of one run."""
    scratch = Path(tempfile.mkdtemp(dir=BENCH_DATA, prefix="ingest-"))
    environment = {
        **os.environ,
        "LAKE_S3_ENDPOINT": settings.s3_endpoint,
        "LAKE_BUCKET": bucket,
        "PYTHONPATH": os.pathsep.join(["env", "notebooks", "benchmarks"]),
    }
    peak_disk = 0
    done = threading.Event()

    def poll() -> None:
        nonlocal peak_disk
        while not done.wait(0.2):
            peak_disk = max(peak_disk, folder_size(scratch))

    poller = threading.Thread(target=poll)
    poller.start()
    command = [
        "/usr/bin/time",
        "-f",
        "%M",
        sys.executable,
        __file__,
        "--child",
        setup,
        "--archive",
        str(archive),
        "--scratch",
        str(scratch),
    ]
    started = time.monotonic()
    finished = subprocess.run(command, env=environment, capture_output=True, text=True)
    seconds = time.monotonic() - started
    done.set()
    poller.join()
    shutil.rmtree(scratch, ignore_errors=True)
    if finished.returncode:
        raise RuntimeError(f"{setup}: {finished.stderr[-2000:]}")
    peak_kib = int(finished.stderr.strip().splitlines()[-1])
    return seconds, peak_kib * 1024, peak_disk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", choices=["baseline", "7zz", "py7zr"])
    parser.add_argument("--archive", type=Path)
    parser.add_argument("--scratch", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.archive, args.scratch)
        return
    posts = generated_posts(args.posts_mb)
    archive = packed_dump(posts)
    size = sum((posts.parent / name).stat().st_size for name in DUMP_TABLES)
    results: dict[str, list[tuple[float, int, int]]] = {name: [] for name in SETUPS}
    with private_s3_server() as settings:
        run = 0
        for _ in range(args.rounds):
            for name, setup in SETUPS.items():
                run += 1
                results[name].append(measure(setup, archive, settings, f"bench{run}"))
    print(f"Machine: {machine()}")
    print(
        f"A dump of {size / 1e6:,.0f} MB (eight files) packed to "
        f"{archive.stat().st_size / 1e6:,.0f} MB; {args.rounds} rounds, median\n"
    )
    print("| setup | seconds | MB/s | vs baseline | peak memory | peak scratch disk |")
    print("|---|---|---|---|---|---|")
    baseline = statistics.median(run[0] for run in next(iter(results.values())))
    for name, runs in results.items():
        seconds = statistics.median(run[0] for run in runs)
        memory = max(run[1] for run in runs) / 1e6
        disk = max(run[2] for run in runs) / 1e6
        print(
            f"| {name} | {seconds:.1f} | {size / 1e6 / seconds:.1f} | "
            f"{baseline / seconds:.2f}x | {memory:,.0f} MB | {disk:,.0f} MB |"
        )


if __name__ == "__main__":
    main()
