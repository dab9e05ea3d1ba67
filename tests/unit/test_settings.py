import pytest
from pydantic import ValidationError

from lakehouse.settings import LakeSettings


def test_defaults_are_the_offline_laptop_setup(monkeypatch):
    for name in ("LAKE_TARGET", "LAKE_BUCKET", "LAKE_S3_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    settings = LakeSettings()
    assert settings.target == "local"
    assert settings.bucket == "stackexchange"
    assert settings.s3_endpoint == "http://127.0.0.1:4566"


def test_environment_overrides(monkeypatch):
    monkeypatch.setenv("LAKE_BUCKET", "my-lake")
    assert LakeSettings().bucket == "my-lake"


def test_a_child_process_environment_gives_back_every_setting(monkeypatch):
    """What a notebook kernel inherits is derived from the fields, so none is left out."""
    given = LakeSettings(
        bucket="other-lake",
        catalog="main",
        aws_secret_access_key="not-the-emulators",
        max_deleted_share=0.9,
        dump_published="2025-09-30",
        spark_remote="sc://spark.example:15002",
        job_python="/opt/python3.12",
    )
    for name in LakeSettings.model_fields:
        monkeypatch.delenv(f"LAKE_{name.upper()}", raising=False)
    for variable, value in given.environment().items():
        monkeypatch.setenv(variable, value)
    assert LakeSettings() == given


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("bucket", "Bad_Bucket", "LAKE_BUCKET"),
        ("s3_endpoint", "127.0.0.1:4566/path", "LAKE_S3_ENDPOINT"),
        ("target", "cloud", "target"),
        ("dump_published", "last quarter", "LAKE_DUMP_PUBLISHED='last quarter' is not a date"),
    ],
)
def test_a_bad_setting_is_named(field, value, named):
    with pytest.raises(ValidationError, match=named):
        LakeSettings(**{field: value})


def test_a_stated_publication_date_is_midnight_utc(monkeypatch):
    monkeypatch.setenv("LAKE_DUMP_PUBLISHED", "2025-09-30")
    assert LakeSettings().dump_published.isoformat() == "2025-09-30T00:00:00+00:00"


def test_each_setting_belongs_to_one_concern():
    """LakeSettings is its concerns' classes together: each field declared in one of them,
    which docs/settings.md shows as its sections."""
    declared = [name for concern in LakeSettings.__bases__ for name in concern.model_fields]
    assert sorted(declared) == sorted(LakeSettings.model_fields)
    assert len(declared) == len(set(declared))
