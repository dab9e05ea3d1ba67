import os

import pytest

from worker.java import JavaNotFound, java_major_version, require_supported_java


def fake_java(tmp_path, banner: str):
    script = tmp_path / "java"
    script.write_text(f"#!/bin/sh\necho '{banner}' >&2\n")
    script.chmod(0o755)
    return str(tmp_path)


def test_reads_the_real_java_on_this_machine():
    assert java_major_version() >= 8


@pytest.mark.parametrize(
    ("banner", "major"),
    [('openjdk version "17.0.15" 2025-04-15', 17), ('java version "1.8.0_392"', 8)],
)
def test_parses_version_banners(tmp_path, monkeypatch, banner, major):
    monkeypatch.setenv("PATH", fake_java(tmp_path, banner) + os.pathsep + os.environ["PATH"])
    assert java_major_version() == major


def test_wrong_java_fails_with_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setenv(
        "PATH", fake_java(tmp_path, 'openjdk version "11.0.2"') + os.pathsep + os.environ["PATH"]
    )
    with pytest.raises(JavaNotFound, match=r"Java 11 found.*Install Java 17"):
        require_supported_java()


def test_missing_java_fails_with_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(JavaNotFound, match="No `java` on PATH"):
        require_supported_java()
