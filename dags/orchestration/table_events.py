"""What a notebook task tells Airflow about the tables it wrote: an Asset event for each
table its step changed (lakehouse.table_changes says which, and what each event carries),
none for one left as it was, and one log line for the whole task.

The tables are known only once the notebook has run, so each task's outlet is an
AssetAlias that the task resolves to the table Assets it changed. A local task reads the
tables with delta-rs; a Databricks task gets them as the notebook's exit value."""

from airflow.sdk import AssetAlias

from lakehouse.table_changes import table_extras


def tables_alias(task: str) -> AssetAlias:
    """The outlet of a notebook task (or of a deployed job's run): the tables it changed,
    resolved at run time."""
    return AssetAlias(name=f"{task}_tables")


def local_table_extras(settings, site: str, before: dict, after: dict) -> dict[str, dict]:
    """The extras of the tables that changed between the versions `before` and `after`,
    read with delta-rs."""
    from worker.lake_summary import held_dump, site_row_count

    dump_id = held_dump(settings, site)
    return table_extras(
        site,
        dump_id,
        before,
        after,
        lambda names: {name: site_row_count(settings, name, site) for name in names},
    )


def emit_table_events(
    alias, task: str, site: str, extras: dict[str, dict], writes: tuple[str, ...], log
) -> None:
    """Resolve `alias` (the task's outlet events of its alias) to the Assets of the
    tables in `extras`, each with its extra, and log the task's result line."""
    from orchestration.assets import TABLE_ASSETS

    for name, extra in extras.items():
        alias.add(TABLE_ASSETS[name], extra=extra)
    unchanged = [name for name in writes if name not in extras]
    log.info(result_line(task, site, extras, unchanged))


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
