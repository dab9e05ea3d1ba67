"""Whether a dump the lake already has starts the medallion again: only when the
site's tables do not hold it yet (its first medallion run failed, or never came), which
Airflow can read on target local only."""


def held_elsewhere_reason(
    site: str, dump_id: str, raw_uri: str, target: str, held: str | None
) -> str | None:
    """Why an ingest of a dump already in the lake at `raw_uri` emits no Asset event, or
    None when it should emit them. `held` is the dump the site's tables hold (target
    local); dump ids begin with their publication date, so they sort by it."""
    found = f"{site} dump {dump_id} is already in the lake at {raw_uri}"
    if target != "local":
        return (
            f"{found}; no Asset event, nothing downstream runs (Airflow cannot read the "
            f"{target} tables: to load it again, trigger stackexchange_medallion with "
            f"site={site})"
        )
    if held is not None and held >= dump_id:
        return f"{found} and its tables hold dump {held}; no Asset event, nothing downstream runs"
    return None
