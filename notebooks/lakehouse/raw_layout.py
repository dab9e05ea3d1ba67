"""The raw zone's layout, written by ingest and read by bronze: each dump's files under
`<raw root>/<site>/<dump_id>/`, the raw root being `<bucket>/raw` unless a setting moves
it. A dump's manifest is written last, after every file: it marks the dump complete and
records each file's row count, size and sha1 for the bronze checks, and, where ingest is
certain of them, its duplicated Ids: then bronze reads the file once."""

RAW_PREFIX = "raw"
# Spark skips files whose names start with "_" or ".", so no leading underscore here.
MANIFEST = "manifest.json"
# The manifest's field: file name -> [[Id, row lines carrying it], ...].
DUPLICATED_IDS = "duplicated_ids"
# Ingest's manifest and bronze's census list at most this many duplicated Ids of a file:
# more is not a dump with a few repeated rows, and bronze then ranks every row in Spark.
MAX_LISTED_DUPLICATES = 10_000
# The manifest's field: file name -> the file beside it that lists every Id its row lines
# carry, each once (Parquet, one `id` column), written where ingest lists its duplicated
# Ids. A refresh compares these with the stored Ids before it parses the file.
ROW_IDS = "row_ids"


def row_ids_file(file_name: str) -> str:
    """The name of the file that lists `file_name`'s Ids."""
    return f"{file_name}.ids.parquet"


def dump_folder(site: str, dump_id: str) -> str:
    """A dump's folder under the raw root."""
    return f"{site}/{dump_id}"
