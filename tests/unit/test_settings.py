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
