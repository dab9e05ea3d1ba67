"""The Databricks side of the notebooks, checked here: widgets, catalog names, and
settings that fail early, naming what to set."""

import uuid

import pytest
from pydantic import ValidationError

from lakehouse import runtime, table_locations, target
from lakehouse.lake import Lake
from lakehouse.settings import LakeSettings
from lakehouse.table_locations import LakeNotReady
from laptop.databricks_imitation import ImitationDbutils

DATABRICKS = {"target": "databricks", "catalog": "main", "raw_root": "s3://landing/raw"}


@pytest.fixture
def on_databricks(monkeypatch):
    """A notebook namespace holding `dbutils`, as the Databricks runtime gives one."""

    def with_job_values(**job_values):
        namespace = {"dbutils": ImitationDbutils(job_values)}
        monkeypatch.setattr(target, "notebook_globals", lambda: namespace)
        return namespace["dbutils"]

    return with_job_values


def test_locally_parameters_are_what_papermill_put_in_the_cell():
    assert runtime.notebook_parameters(site="a.example.com", dump_id="") == {
        "site": "a.example.com",
        "dump_id": "",
    }
    assert runtime.widget_settings() == {}


def test_on_databricks_job_values_win_and_defaults_fill_the_rest(on_databricks):
    on_databricks(site="bicycles.stackexchange.com", catalog="prod", raw_root="/Volumes/p/r/v")
    values = runtime.notebook_parameters(site="sample.stackexchange.com", dump_id="")
    assert values == {"site": "bicycles.stackexchange.com", "dump_id": ""}
    assert runtime.widget_settings() == {"catalog": "prod", "raw_root": "/Volumes/p/r/v"}


def test_databricks_widgets_are_declared_before_they_are_read(on_databricks):
    dbutils = on_databricks()
    runtime.notebook_parameters(run_id="")
    with pytest.raises(ValueError, match="InputWidgetNotDefined"):
        dbutils.widgets.get("never_declared")


@pytest.mark.parametrize(
    ("missing", "named"),
    [("catalog", "LAKE_CATALOG (job parameter `catalog`)"), ("raw_root", "LAKE_RAW_ROOT")],
)
def test_databricks_without_a_catalog_or_raw_location_names_the_setting(missing, named):
    with pytest.raises(ValidationError, match=named.replace("(", r"\(").replace(")", r"\)")):
        LakeSettings(**{**DATABRICKS, missing: ""})


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [("catalog", "main.bronze", "LAKE_CATALOG"), ("raw_root", "landing/raw", "LAKE_RAW_ROOT")],
)
def test_malformed_databricks_settings_are_named(field, value, named):
    with pytest.raises(ValidationError, match=named):
        LakeSettings(**{**DATABRICKS, field: value})


def test_the_runtime_variable_makes_databricks_the_default_target(monkeypatch):
    monkeypatch.delenv("LAKE_TARGET", raising=False)
    monkeypatch.setenv("DATABRICKS_RUNTIME_VERSION", "17.3")
    assert LakeSettings(catalog="main", raw_root="s3://landing/raw").target == "databricks"


def test_logical_names_resolve_to_catalog_or_path():
    in_catalog = Lake(None, LakeSettings(**DATABRICKS))
    assert in_catalog.sql_name("gold.posts_users") == "`main`.`gold`.`posts_users`"
    assert in_catalog.raw_uri("s", "d", "Posts.xml") == "s3://landing/raw/s/d/Posts.xml"
    local = Lake(None, LakeSettings(target="local", bucket="lake"))
    assert local.sql_name("gold.posts_users") == "delta.`s3a://lake/gold/posts_users`"
    assert local.raw_uri("s", "d", "Posts.xml") == "s3a://lake/raw/s/d/Posts.xml"
    with pytest.raises(ValueError, match="logical table name"):
        local.sql_name("main.gold.posts_users")


def test_a_missing_catalog_or_schema_fails_before_any_work(spark, monkeypatch):
    with pytest.raises(LakeNotReady, match="catalog 'absent' .*LAKE_CATALOG"):
        Lake(spark, LakeSettings(**{**DATABRICKS, "catalog": "absent"})).check_ready()
    # Layers of their own: the server's catalog may hold the real ones (the Databricks
    # imitation registers them), and must not get them from here.
    present, absent = (f"{layer}_{uuid.uuid4().hex[:8]}" for layer in ("bronze", "silver"))
    monkeypatch.setattr(table_locations, "LAYERS", (present, absent))
    spark.sql(f"CREATE SCHEMA spark_catalog.{present}")
    try:
        with pytest.raises(LakeNotReady, match=f"lacks the schemas {absent};"):
            Lake(spark, LakeSettings(**{**DATABRICKS, "catalog": "spark_catalog"})).check_ready()
    finally:
        spark.sql(f"DROP SCHEMA spark_catalog.{present}")


class VolumeListing:
    """A session that answers SHOW VOLUMES with `volumes`, and records what it ran."""

    def __init__(self, volumes: list[str]):
        self.volumes, self.queries = volumes, []

    def sql(self, query: str):
        self.queries.append(query)
        rows = [{"database": "landing", "volume_name": v} for v in self.volumes]
        return type("Result", (), {"collect": lambda self: rows})()


def test_a_missing_raw_volume_is_named_with_its_fix():
    raw_root = "/Volumes/main/landing/dumps/raw"
    with pytest.raises(LakeNotReady, match=r"Volume main.landing.dumps, .*CREATE VOLUME main"):
        table_locations.check_raw_volume(VolumeListing(["Dumps"]), raw_root)
    present = VolumeListing(["dumps"])
    table_locations.check_raw_volume(present, raw_root)
    assert present.queries == ["SHOW VOLUMES IN `main`.`landing` LIKE 'dumps'"]


def test_databricks_without_the_runtime_session_refuses_to_build_one(monkeypatch):
    monkeypatch.setattr(target, "notebook_globals", lambda: {})
    monkeypatch.setattr("pyspark.sql.SparkSession.getActiveSession", staticmethod(lambda: None))
    with pytest.raises(RuntimeError, match="no `spark` from the Databricks runtime"):
        target.resolve(LakeSettings(**DATABRICKS)).spark_session()


def test_locally_the_session_comes_from_the_registered_factory(monkeypatch):
    monkeypatch.setattr(target, "notebook_globals", lambda: {})
    monkeypatch.setattr("pyspark.sql.SparkSession.getActiveSession", staticmethod(lambda: None))
    from worker.spark_session import build_local_session

    assert target.local_spark_factory() is build_local_session
    monkeypatch.setattr("importlib.metadata.entry_points", lambda **selection: ())
    with pytest.raises(RuntimeError, match=r"entry point lakehouse\.local_spark"):
        target.resolve(LakeSettings()).spark_session()
