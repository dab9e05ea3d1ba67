"""The jar manifest, read as Spark and the S3 server get their jars from it."""

import pytest

from worker.jars import manifest
from worker.paths import JAR_MANIFEST


def test_every_jar_of_the_manifest_has_its_coordinates():
    jars = manifest()
    assert jars and all(jar.file_name.endswith(".jar") and jar.version for jar in jars)


def test_a_dependency_without_a_version_is_named_with_the_fix(tmp_path):
    pom = tmp_path / "jars.pom.xml"
    text = JAR_MANIFEST.read_text()
    start = text.index("<version>", text.index("<dependency>"))
    pom.write_text(text[:start] + text[text.index("</version>", start) + len("</version>") :])
    with pytest.raises(ValueError, match=rf"^{pom}: a <dependency> has no <version>; add it$"):
        manifest(pom)
