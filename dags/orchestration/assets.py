"""The Assets: one per raw dump file (the seed's `s3://<bucket>/raw/Posts.xml`) and one
per lake table. A raw Asset stands for the latest ingested copy of that file; each
event's extra says which site and dump it was, and the file's sha1."""

from airflow.sdk import Asset

from lakehouse.graph import TABLES
from lakehouse.lake import split_name
from lakehouse.schemas import DUMP_TABLES
from lakehouse.settings import LakeSettings

BUCKET = LakeSettings().bucket


def raw_asset(file_name: str) -> Asset:
    return Asset(uri=f"s3://{BUCKET}/raw/{file_name}", group="raw")


def table_asset(name: str) -> Asset:
    layer, table = split_name(name)
    return Asset(uri=f"s3://{BUCKET}/{layer}/{table}", group=layer)


RAW_ASSETS: dict[str, Asset] = {file_name: raw_asset(file_name) for file_name in DUMP_TABLES}
TABLE_ASSETS: dict[str, Asset] = {name: table_asset(name) for name in TABLES}
