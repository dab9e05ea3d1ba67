"""Benchmark: what dating an undated dump by its newest row costs ingest's structure check.

Ingest streams every file of a dump through `XmlStreamCheck`. A dump that no release item
or listing dates is dated by the newest `...Date` of any row (`date_rows=True`), which
scans every file's rows; a dated one is not scanned. The baseline is that dated dump's
check, the cheapest ingest there is; beside it, the check with row dating. The files are
a generated dump in Stack Overflow's proportions, checked from memory in 1 MB chunks (as
the decoder hands them over), so the archive decoder's time is not in the figures.
Rounds alternate the setups. Run:
`.venv/bin/python benchmarks/row_dating.py --dump-mb 300 --rounds 5`.
"""

import argparse
import time
from pathlib import Path

from run_benchmarks import BENCH_DATA, machine, print_speed_table

from dump_generator.sample import STACK_OVERFLOW, SampleSpec, write_sample_dump
from lakehouse.schemas import DUMP_TABLES
from worker.ingest.xml_check import XmlStreamCheck

CHUNK = 1 << 20


def generated_dump(megabytes: int) -> Path:
    folder = BENCH_DATA / f"row-dating-{megabytes}mb"
    if not (folder / "PostHistory.xml").exists():
        spec = SampleSpec(site="bench.example.com", proportions=STACK_OVERFLOW)
        write_sample_dump(spec, folder, target_dump_bytes=megabytes * 1_000_000)
    return folder


def check_all(files: dict[str, bytes], date_rows: bool) -> float:
    started = time.perf_counter()
    for name, data in files.items():
        check = XmlStreamCheck(name, DUMP_TABLES[name], date_rows=date_rows)
        for start in range(0, len(data), CHUNK):
            check.write(data[start : start + CHUNK])
        check.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dump-mb", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    folder = generated_dump(args.dump_mb)
    files = {name: (folder / name).read_bytes() for name in DUMP_TABLES}
    size = sum(len(data) for data in files.values())
    seconds: dict[str, list[float]] = {
        "dated dump (no row dating)": [],
        "undated: every row dated": [],
    }
    for _ in range(args.rounds):
        seconds["dated dump (no row dating)"].append(check_all(files, date_rows=False))
        seconds["undated: every row dated"].append(check_all(files, date_rows=True))
    print(f"{machine()}; {size / 1e6:.0f} MB of XML in {len(files)} files, {args.rounds} rounds")
    print_speed_table(seconds, size, "structure check")


if __name__ == "__main__":
    main()
