"""Which (site, dump) pairs one medallion run processes, from its params or from the raw
Asset events that triggered it. Plain functions, so they are tested without Airflow."""

import re
from collections.abc import Iterable
from pathlib import Path


class NothingToRun(ValueError):
    pass


def site_run_dir(runs_dir: Path, run: dict) -> Path:
    """Where a run of the local target keeps a site's executed notebooks and report."""
    return Path(runs_dir) / run["run_id"] / run["site"]


def notebook_run_id(dag_run_id: str) -> str:
    """An Airflow run id as a folder name and a notebook parameter."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", dag_run_id).strip("_")


def site_runs(
    *,
    run_id: str,
    site: str = "",
    dump_id: str = "",
    posts_events: Iterable[dict] = (),
    users_events: Iterable[dict] = (),
) -> list[dict[str, str]]:
    """One entry per site: the sites of the `site` param (comma-separated) when given,
    otherwise every site whose Posts and Users of the same dump arrived in the triggering
    events, at its latest such dump."""
    named = sorted({name.strip() for name in site.split(",") if name.strip()})
    if dump_id and len(named) > 1:
        raise NothingToRun(
            f"dump_id {dump_id!r} names one site's dump, but `site` names {len(named)}: "
            "leave dump_id empty (each site's latest dump) or name one site"
        )
    if named:
        return [{"site": name, "dump_id": dump_id, "run_id": run_id} for name in named]
    posts = {(event["site"], event["dump_id"]) for event in posts_events if event.get("site")}
    users = {(event["site"], event["dump_id"]) for event in users_events if event.get("site")}
    latest: dict[str, str] = {}
    for event_site, event_dump in sorted(posts & users):  # dump ids sort by date
        latest[event_site] = event_dump
    if not latest:
        raise NothingToRun(
            "This run names no site: set the `site` param, or let produce_data_assets "
            "trigger it (its Posts and Users events name the site and dump)"
        )
    return [{"site": s, "dump_id": d, "run_id": run_id} for s, d in sorted(latest.items())]
