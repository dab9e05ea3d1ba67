"""Airflow connections -> the lake's settings. Connections come from `AIRFLOW_CONN_*`
variables or a secrets backend; their names are fixed so the docs can list them."""

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException
from pydantic import ValidationError

from lakehouse.settings import LakeSettings

AWS_CONN_ID = "aws_conn"
DATABRICKS_CONN_ID = "databricks_conn"


class ConnectionProblem(RuntimeError):
    pass


def _connection(conn_id: str):
    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise ConnectionProblem(
            f"Airflow connection {conn_id!r} is not defined; set AIRFLOW_CONN_{conn_id.upper()} "
            "or add it to your secrets backend (docs/airflow.md)"
        ) from None


def lake_settings(conn_id: str = AWS_CONN_ID) -> LakeSettings:
    """The settings of the lake Airflow itself writes (raw dumps, and the tables of target
    local), with the S3 endpoint and keys of connection `conn_id`: target local, whatever
    LAKE_TARGET says, as the Databricks branch hands its job a catalog of its own."""
    connection = _connection(conn_id)
    extra = connection.extra_dejson
    overrides = {
        "s3_endpoint": extra.get("endpoint_url"),
        "aws_access_key_id": connection.login,
        "aws_secret_access_key": connection.password,
        "aws_region": extra.get("region_name"),
    }
    try:
        return LakeSettings(
            target="local", **{key: value for key, value in overrides.items() if value}
        )
    except ValidationError as error:
        raise ConnectionProblem(
            f"Airflow connection {conn_id!r}: {error.errors()[0]['msg']}"
        ) from None


def check_lake_reachable(settings: LakeSettings, conn_id: str = AWS_CONN_ID) -> None:
    """Fail early, naming the connection, when its S3 endpoint does not answer."""
    from botocore.exceptions import BotoCoreError, ClientError

    from worker.ingest.raw_store import s3_client

    try:
        s3_client(settings).list_buckets()
    except (BotoCoreError, ClientError) as error:
        raise ConnectionProblem(
            f"Airflow connection {conn_id!r}: S3 at {settings.s3_endpoint} did not answer ({error})"
        ) from None


def check_databricks_defined(conn_id: str = DATABRICKS_CONN_ID) -> None:
    connection = _connection(conn_id)
    if not connection.host:
        raise ConnectionProblem(f"Airflow connection {conn_id!r} has no host")
