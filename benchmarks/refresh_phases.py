"""Profile: where a refresh's seconds go inside its steps. Runs refresh.py (the refresh
beside its reload) with a timer on each phase of a write: the comparison before it, a
MERGE, a `replaceWhere`, an append, the census, the lineage and the load records; then
prints, per run, each step's seconds by phase (a timed call inside another counts only
in the outer one's phase). A profile, not a benchmark: the timers
wrap private functions, and refresh.py's own tables follow. Run:
`cd benchmarks && ../.venv/bin/python refresh_phases.py --posts-mb 128`.
"""

import time
from collections import defaultdict
from functools import wraps

import refresh

from lakehouse import delta_merge, steps
from lakehouse.bronze import xml_to_bronze
from lakehouse.lake import Lake

SPENT: dict[str, float] = defaultdict(float)
CURRENT_STEP = ["-"]


TIMING: list[str] = []  # the phase being timed: a call inside it counts only there


def time_calls(owner, name: str, phase: str) -> None:
    """Add the seconds of every call of `owner.name` to SPENT, under the step and phase."""
    original = getattr(owner, name)

    @wraps(original)
    def timed(*args, **kwargs):
        if TIMING:
            return original(*args, **kwargs)
        started = time.monotonic()
        TIMING.append(phase)
        try:
            return original(*args, **kwargs)
        finally:
            TIMING.pop()
            SPENT[f"{CURRENT_STEP[0]}: {phase}"] += time.monotonic() - started

    setattr(owner, name, timed)


def naming_steps() -> None:
    """Note which step runs, for the timers."""
    for name, body in list(steps.STEPS.items()):

        def named(ctx, body=body, name=name):
            CURRENT_STEP[0] = name
            return body(ctx)

        steps.STEPS[name] = named


def run_by_phase(lake: Lake, dump_id: str) -> dict[str, float]:
    SPENT.clear()
    seconds = timed_run(lake, dump_id)
    print(f"\n{lake.settings.bucket}, dump {dump_id}: {seconds['run']} s")
    for key, value in sorted(SPENT.items()):
        print(f"  {key} {value:.1f} s")
    return seconds


for owner, name, phase in (
    (delta_merge, "_compare", "comparison"),
    (delta_merge, "_merge", "MERGE"),
    (Lake, "replace_where", "replaceWhere"),
    (Lake, "append", "append"),
    (xml_to_bronze, "take_census", "census"),
    (xml_to_bronze, "record_lineage", "lineage"),
    (xml_to_bronze, "record_loads", "load records"),
):
    time_calls(owner, name, phase)
naming_steps()
timed_run, refresh.timed_run = refresh.timed_run, run_by_phase

if __name__ == "__main__":
    refresh.main()
