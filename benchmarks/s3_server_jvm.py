"""Benchmark: the local S3 server's CPU under JVM flags, for the requests a lake makes
(Delta's commits: small PUTs, HEADs, LISTs of a log folder, GETs), one new server per
variant and round, the variants alternated.

Run: `.venv/bin/python benchmarks/s3_server_jvm.py --rounds 3 --requests 3000
--variant=-XX:+UseSerialGC "--variant=-XX:+UseSerialGC -XX:TieredStopAtLevel=1"` (the
JVM's defaults are always the first variant).
"""

import argparse
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lakehouse.settings import LakeSettings
from laptop.ports import free_port
from worker.ingest.raw_store import ensure_bucket, s3_client
from worker.s3_server import S3Server

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass(frozen=True)
class FlaggedS3Server(S3Server):
    java_options: tuple[str, ...] = ()

    def command(self) -> list[str]:
        java, *rest = super().command()
        return [java, *self.java_options, *rest]


def a_lakes_requests(client, bucket: str, requests: int) -> None:
    """`requests` requests in the mix of a Delta table's commits: write a commit file, look
    for it, list the log, read it back."""
    body = b'{"commitInfo":{"operation":"WRITE"}}\n' * 20
    for n in range(requests // 4):
        key = f"bronze/posts/_delta_log/{n:020d}.json"
        client.put_object(Bucket=bucket, Key=key, Body=body)
        client.head_object(Bucket=bucket, Key=key)
        client.list_objects_v2(Bucket=bucket, Prefix="bronze/posts/_delta_log/", MaxKeys=50)
        client.get_object(Bucket=bucket, Key=key)["Body"].read()


def one_round(flags: str, requests: int, work: Path) -> tuple[float, float]:
    port = free_port()
    settings = LakeSettings(s3_endpoint=f"http://127.0.0.1:{port}", bucket="bench")
    server = FlaggedS3Server(work / "data", work / "state", port, java_options=tuple(flags.split()))
    server.start()
    try:
        pid = server.running_pid()
        assert pid is not None
        client = s3_client(settings)
        ensure_bucket(client, settings.bucket)
        started_cpu, started = cpu_seconds(pid), time.monotonic()
        a_lakes_requests(client, settings.bucket, requests)
        return time.monotonic() - started, cpu_seconds(pid) - started_cpu
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--variant", action="append", default=[], help="JVM flags, one string")
    args = parser.parse_args()
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
