"""The raw zone's layout, written by ingest and read by bronze: each dump's files under
`<raw root>/<site>/<dump_id>/`, the raw root being `<bucket>/raw` unless a setting moves
it. A dump's manifest is written last, after every file: it marks the dump complete and
records each file's row count and sha1 for the bronze checks."""

RAW_PREFIX = "raw"
# Spark skips files whose names start with "_" or ".", so no leading underscore here.
MANIFEST = "manifest.json"


def dump_folder(site: str, dump_id: str) -> str:
    """A dump's folder under the raw root."""
    return f"{site}/{dump_id}"
