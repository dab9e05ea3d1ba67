"""Benchmark: how fast each decoder streams a dump archive's member to a reader in Python.

A generated Posts.xml is packed the way the published dumps are (`7zz l -slt` on them:
solid, BCJ then LZMA2 with a 16 MB dictionary), by Debian's 7-Zip with its default
threads. Each decoder then hands the member's bytes to a Python consumer that only
counts them, as a streaming ingest would receive them:
- py7zr (the project's decoder today), through its writer factory, no file written;
- 7-Zip's `7zz x -so`, read from its pipe, with its default threads and with one;
- the baseline, what a user would run instead: `7zz x` to a folder on disk.
Rounds alternate the decoders. Run:
`.venv/bin/python benchmarks/decoders.py --posts-mb 1024 --rounds 2`.
"""

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import py7zr
from py7zr.io import Py7zIO, WriterFactory
from run_benchmarks import BENCH_DATA, generated_posts, machine

SEVEN_ZIP = "7zz"
PUBLISHED_METHOD = ["-m0=BCJ", "-m1=LZMA2:d24"]
CHUNK = 1 << 20


class CountingWriter(Py7zIO):
    """What py7zr writes a member into: counts the bytes and keeps none."""

    def __init__(self) -> None:
        self.count = 0

    def write(self, data: bytes | bytearray) -> int:
        self.count += len(data)
        return len(data)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def flush(self) -> None:
        pass

    def size(self) -> int:
        return self.count


class CountingFactory(WriterFactory):
    def __init__(self) -> None:
        self.writers: list[CountingWriter] = []

    def create(self, filename: str) -> Py7zIO:
        self.writers.append(CountingWriter())
        return self.writers[-1]


def packed(posts: Path) -> Path:
    """Posts.xml packed as the published dumps are, kept beside it for re-runs."""
    archive = posts.parent / "posts-only.7z"
    if not archive.exists():
        subprocess.run(
            [SEVEN_ZIP, "a", "-bd", "-bso0", *PUBLISHED_METHOD, str(archive), str(posts)],
            check=True,
        )
    return archive


def py7zr_stream(archive: Path) -> int:
    factory = CountingFactory()
    with py7zr.SevenZipFile(archive) as source:
        source.extract(targets=["Posts.xml"], factory=factory)
    return sum(writer.count for writer in factory.writers)


def seven_zip_stream(archive: Path, threads: str) -> int:
    command = [SEVEN_ZIP, "x", "-so", "-bd", f"-mmt={threads}", str(archive), "Posts.xml"]
    with subprocess.Popen(command, stdout=subprocess.PIPE) as process:
        total = 0
        while chunk := process.stdout.read(CHUNK):
            total += len(chunk)
    if process.returncode:
        raise RuntimeError(f"{SEVEN_ZIP} exited with {process.returncode}")
    return total


def seven_zip_to_disk(archive: Path) -> int:
    folder = Path(tempfile.mkdtemp(dir=BENCH_DATA))
    try:
        subprocess.run([SEVEN_ZIP, "x", "-bd", "-bso0", f"-o{folder}", str(archive)], check=True)
        return (folder / "Posts.xml").stat().st_size
    finally:
        shutil.rmtree(folder)


DECODERS: dict[str, Callable[[Path], int]] = {
    "baseline: `7zz x` to disk (default threads)": seven_zip_to_disk,
    "py7zr 1.1.4 to a Python reader": py7zr_stream,
    "`7zz x -so` to a Python reader, default threads": lambda a: seven_zip_stream(a, "on"),
    "`7zz x -so` to a Python reader, one thread": lambda a: seven_zip_stream(a, "1"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts-mb", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    posts = generated_posts(args.posts_mb)
    archive = packed(posts)
    size = posts.stat().st_size
    seconds: dict[str, list[float]] = {name: [] for name in DECODERS}
    for _ in range(args.rounds):
        for name, decode in DECODERS.items():
            started = time.monotonic()
            decoded = decode(archive)
            seconds[name].append(time.monotonic() - started)
            if decoded != size:
                raise RuntimeError(f"{name}: {decoded} bytes, expected {size}")
    baseline = statistics.median(next(iter(seconds.values())))
    print(f"Machine: {machine()}")
    print(
        f"{size / 1e6:,.0f} MB Posts.xml packed to {archive.stat().st_size / 1e6:,.0f} MB "
        f"(BCJ + LZMA2:24); {args.rounds} rounds, median\n"
    )
    print("| decoder | seconds | MB/s | vs baseline |\n|---|---|---|---|")
    for name, rounds in seconds.items():
        median = statistics.median(rounds)
        print(f"| {name} | {median:.2f} | {size / 1e6 / median:.1f} | {baseline / median:.2f}x |")


if __name__ == "__main__":
    main()
