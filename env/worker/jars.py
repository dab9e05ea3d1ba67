"""The jars from the manifest (env/jars.pom.xml), as paths in the local cache."""

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from worker.paths import JAR_CACHE, JAR_MANIFEST

_POM = "{http://maven.apache.org/POM/4.0.0}"


@dataclass(frozen=True)
class Jar:
    group: str
    artifact: str
    version: str
    classifier: str | None

    @property
    def file_name(self) -> str:
        suffix = f"-{self.classifier}" if self.classifier else ""
        return f"{self.artifact}-{self.version}{suffix}.jar"


def _required(dep: ET.Element, tag: str, pom: Path) -> str:
    text = dep.findtext(f"{_POM}{tag}")
    if text is None:
        raise ValueError(f"{pom}: a <dependency> has no <{tag}>; add it")
    return text


def manifest(pom: Path = JAR_MANIFEST) -> list[Jar]:
    root = ET.parse(pom).getroot()
    return [
        Jar(
            group=_required(dep, "groupId", pom),
            artifact=_required(dep, "artifactId", pom),
            version=_required(dep, "version", pom),
            classifier=dep.findtext(f"{_POM}classifier"),
        )
        for dep in root.iter(f"{_POM}dependency")
    ]


def jar_path(artifact: str, cache: Path = JAR_CACHE) -> Path:
    """Return the cached jar of `artifact`, or fail with how to fetch it."""
    for jar in manifest():
        if jar.artifact == artifact:
            path = cache / jar.file_name
            if not path.is_file():
                raise FileNotFoundError(
                    f"{path} is missing: run `make setup` once (it fetches the jars from "
                    "Maven Central)"
                )
            return path
    raise KeyError(f"{artifact} is not in {JAR_MANIFEST}")


SPARK_ARTIFACTS = ("delta-spark_4.1_2.13", "delta-storage", "hadoop-aws", "bundle")
S3PROXY_ARTIFACT = "s3proxy"


def spark_jars() -> list[Path]:
    return [jar_path(artifact) for artifact in SPARK_ARTIFACTS]
