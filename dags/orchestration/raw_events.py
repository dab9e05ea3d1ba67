"""Whether a dump the lake already has starts the medallion again: only while some step
of its site has not run on it (its medallion run failed part way, or never came), which
Airflow can read on target local only."""

NOTHING_RUNS = "no Asset event, nothing downstream runs"


def already_ingested_reason(
    site: str, dump_id: str, raw_uri: str, target: str, steps_left: list[str], held: str | None
) -> str | None:
    """Why an ingest of a dump already in the lake at `raw_uri` emits no Asset event, or
    None when it should emit them. On target local, `steps_left` are the steps that have
    not run on it and `held` the newest dump the site's tables hold; dump ids begin with
    their publication date."""
    found = f"{site} dump {dump_id} is already in the lake at {raw_uri}"
    if target != "local":
        return (
            f"{found}; {NOTHING_RUNS} (Airflow cannot read the {target} tables: to load it "
            f"again, trigger stackexchange_medallion with site={site})"
        )
    if held is not None and held[:10] > dump_id[:10]:
        return f"{found}, and its tables hold the newer dump {held}; {NOTHING_RUNS}"
    if not steps_left:
        return f"{found}, and every step has run on it; {NOTHING_RUNS}"
    return None


def skip_reason(settings, result, target: str) -> str | None:
    """already_ingested_reason for an ingest's `result`; on target local, read from the
    site's tables (delta-rs)."""
    raw = (result.site, result.dump_id, result.raw_uri)
    if target != "local":
        return already_ingested_reason(*raw, target, [], None)
    from worker.lake_summary import held_dump
    from worker.step_state import steps_with_work

    steps_left = steps_with_work(settings, result.site, result.dump_id)
    return already_ingested_reason(*raw, target, steps_left, held_dump(settings, result.site))
