"""The Assets: one per raw dump file (the seed's `s3://<bucket>/raw/Posts.xml`) and one
per lake table. A raw Asset stands for the latest ingested copy of that file; each
event's extra says which site and dump it was, and the file's sha1."""

from airflow.sdk import Asset

from lakehouse.raw_layout import RAW_PREFIX
from lakehouse.schemas import DUMP_TABLES
from lakehouse.settings import LakeSettings
from lakehouse.steps import TABLES
from lakehouse.table_locations import split_name, table_path

BUCKET = LakeSettings().bucket


def raw_asset(file_name: str) -> Asset:
    return Asset(uri=f"s3://{BUCKET}/{RAW_PREFIX}/{file_name}", group=RAW_PREFIX)


def table_asset(name: str) -> Asset:
    layer, _ = split_name(name)
    return Asset(uri=table_path(BUCKET, name, scheme="s3"), group=layer)


RAW_ASSETS: dict[str, Asset] = {file_name: raw_asset(file_name) for file_name in DUMP_TABLES}
TABLE_ASSETS: dict[str, Asset] = {name: table_asset(name) for name in TABLES}
