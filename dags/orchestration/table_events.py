"""What a local notebook task tells Airflow about the tables it wrote: an Asset event for
each table of its writes whose version moved while it ran (the history tables the bronze
steps share may move by another's commit), none for one left as it was, each saying
which site, which dump the site's tables now hold, the table's version and the site's
rows; and one log line for the whole task.

The tables are known only once the notebook has run, so each task's outlet is an
AssetAlias that the task resolves to the table Assets it changed."""

from airflow.sdk import AssetAlias

from lakehouse.tables import DQ_RESULTS, POSTS_QUARANTINE, POSTS_VALID

# The tables of the data-quality step, whose events also carry its outcome.
QUALITY_TABLES = (POSTS_VALID, POSTS_QUARANTINE, DQ_RESULTS)


def tables_alias(notebook: str) -> AssetAlias:
    """The outlet of a local notebook task: the tables it changed, resolved at run time."""
    return AssetAlias(name=f"{notebook}_tables")


def changed_tables(before: dict[str, int | None], after: dict[str, int | None]) -> list[str]:
    """The tables whose newest commit is not the one they had before (in `after`'s order)."""
    return [
        name for name, version in after.items() if version is not None and version != before[name]
    ]


def table_extras(settings, site: str, changed: dict[str, int]) -> dict[str, dict]:
    """Per changed table (name -> its version after the notebook), its event's extra, read
    with delta-rs."""
    from localenv.lake_summary import held_dump, site_rows

    dump_id = held_dump(settings, site)
    extras = {
        name: {"site": site, "dump_id": dump_id, "version": version}
        for name, version in changed.items()
    }
    counted = {*changed, *QUALITY_TABLES} if set(changed) & set(QUALITY_TABLES) else set(changed)
    rows = {name: site_rows(settings, name, site) for name in counted}
    for name in changed:
        extras[name]["rows"] = rows[name]
        if name in QUALITY_TABLES:
            extras[name]["posts_passed"] = rows[POSTS_VALID]
            extras[name]["posts_quarantined"] = rows[POSTS_QUARANTINE] or 0
    return extras


def result_line(notebook: str, site: str, extras: dict[str, dict], unchanged: list[str]) -> str:
    """The task's result in one line: what it changed, with rows, and what it left."""
    if not extras:
        return f"{notebook} of {site}: no table changed"
    dump_id = next(iter(extras.values()))["dump_id"]
    written = ", ".join(
        f"{name} v{extra['version']} ({extra['rows']:,} rows)" for name, extra in extras.items()
    )
    line = f"{notebook} of {site}, dump {dump_id}: {written}"
    return f"{line}; unchanged: {', '.join(unchanged)}" if unchanged else line
