"""Benchmark: the local S3 server's CPU under JVM flags, for the requests a lake makes
(Delta's commits: small PUTs, HEADs, LISTs of a log folder, GETs), one new server per
variant and round, the variants alternated. With `--by-request`, instead, what each kind
of request costs the server (its defaults) as the log folder grows.

Run: `.venv/bin/python benchmarks/s3_server_jvm.py --rounds 3 --requests 3000
--variant=-XX:+UseSerialGC "--variant=-XX:+UseSerialGC -XX:TieredStopAtLevel=1"` (the
JVM's defaults are always the first variant); `... s3_server_jvm.py --by-request`.
"""

import argparse
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from lakehouse.settings import LakeSettings
from laptop.ports import free_port
from worker.ingest.raw_store import ensure_bucket, s3_client
from worker.s3_server import S3Server

LOG = "bronze/posts/_delta_log/"


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


@dataclass(frozen=True)
class FlaggedS3Server(S3Server):
    java_options: tuple[str, ...] = ()

    def command(self) -> list[str]:
        java, *rest = super().command()
        return [java, *self.java_options, *rest]


def a_lakes_requests(client, bucket: str, requests: int) -> None:
    """`requests` requests in the mix of a Delta table's commits: write a commit file, look
    for it, list the log, read it back."""
    for n in range(requests // 4):
        key = put_commit(client, bucket, n)
        client.head_object(Bucket=bucket, Key=key)
        client.list_objects_v2(Bucket=bucket, Prefix=LOG, MaxKeys=50)
        client.get_object(Bucket=bucket, Key=key)["Body"].read()


def put_commit(client, bucket: str, version: int) -> str:
    key = f"{LOG}{version:020d}.json"
    client.put_object(Bucket=bucket, Key=key, Body=b'{"commitInfo":{"operation":"WRITE"}}\n' * 20)
    return key


def started_server(flags: str, work: Path) -> tuple[FlaggedS3Server, object, int]:
    """A new server with `flags`, a client of it with its bucket made, and its pid."""
    port = free_port()
    settings = LakeSettings(s3_endpoint=f"http://127.0.0.1:{port}", bucket="bench")
    server = FlaggedS3Server(work / "data", work / "state", port, java_options=tuple(flags.split()))
    server.start()
    pid = server.running_pid()
    assert pid is not None
    client = s3_client(settings)
    ensure_bucket(client, settings.bucket)
    return server, client, pid


def one_round(flags: str, requests: int, work: Path) -> tuple[float, float]:
    server, client, pid = started_server(flags, work)
    try:
        started_cpu, started = cpu_seconds(pid), time.monotonic()
        a_lakes_requests(client, "bench", requests)
        return time.monotonic() - started, cpu_seconds(pid) - started_cpu
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def by_request(work: Path, calls: int = 200) -> None:
    """Each kind of request's server CPU, as the log folder holds more commit files."""
    server, client, pid = started_server("", work)
    last = f"{LOG}{0:020d}.json"
    kinds = {
        "HEAD": lambda: client.head_object(Bucket="bench", Key=last),
        "GET": lambda: client.get_object(Bucket="bench", Key=last)["Body"].read(),
        "LIST, MaxKeys 50": lambda: client.list_objects_v2(Bucket="bench", Prefix=LOG, MaxKeys=50),
        "LIST, StartAfter the last": lambda: client.list_objects_v2(
            Bucket="bench", Prefix=LOG, StartAfter=last
        ),
    }
    try:
        for held in (100, 750, 1500):
            while (last_version := int(last[len(LOG) : -5])) + 1 < held:
                last = put_commit(client, "bench", last_version + 1)
            for kind, request in kinds.items():
                started_cpu = cpu_seconds(pid)
                for _ in range(calls):
                    request()
                spent = (cpu_seconds(pid) - started_cpu) / calls * 1000
                print(f"{held:5d} objects in the folder, {kind}: {spent:.2f} ms of server CPU")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--variant", action="append", default=[], help="JVM flags, one string")
    parser.add_argument("--by-request", action="store_true", help="each request kind's cost")
    args = parser.parse_args()
    if args.by_request:
        by_request(Path(tempfile.mkdtemp(prefix="s3-server-jvm-")))
        return
    variants = ["", *args.variant]
    results: dict[str, list[tuple[float, float]]] = {flags: [] for flags in variants}
    work = Path(tempfile.mkdtemp(prefix="s3-server-jvm-"))
    for round_number in range(args.rounds):
        for flags in variants:
            wall, cpu = one_round(flags, args.requests, work / f"{round_number}")
            results[flags].append((wall, cpu))
            name = flags or "(defaults)"
            print(f"round {round_number} {name}: {wall:.1f} s, server CPU {cpu:.1f} s")
    for flags, runs in results.items():
        walls, cpus = [w for w, _ in runs], [c for _, c in runs]
        print(
            f"{flags or '(defaults)'}: wall {min(walls):.1f}-{max(walls):.1f} s, "
            f"server CPU {min(cpus):.1f}-{max(cpus):.1f} s"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
