"""kind/, validated without a Docker engine: manifests against the Kubernetes schemas,
the Helm values against the chart's own schema, the install script by ShellCheck, the
Dockerfile against the repository, and the git-sync Secret template."""

import json
import re
import shutil
import string
import subprocess
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from conftest import REPO_ROOT, absent

KIND = REPO_ROOT / "kind"
CHART_SCHEMA = REPO_ROOT.parent / "shared" / "helm" / "airflow" / "values.schema.json"
KUBERNETES_VERSION = "1.33"
VALUES = yaml.safe_load((KIND / "values-override.yaml").read_text())
CLUSTER = yaml.safe_load((KIND / "cluster.yaml").read_text())
S3_MANIFESTS = list(yaml.safe_load_all((KIND / "s3.yaml").read_text()))


def validate_manifest(manifest: dict) -> None:
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def rendered_secret_template(**environment: str) -> dict:
    template = string.Template((KIND / "git-sync-secret.yaml.example").read_text())
    return yaml.safe_load(template.substitute(environment))


@pytest.mark.parametrize("manifest", S3_MANIFESTS, ids=lambda m: m["kind"])
def test_manifests_validate_against_the_kubernetes_schemas(manifest):
    validate_manifest(manifest)


def test_a_wrong_manifest_is_refused():
    broken = json.loads(json.dumps(S3_MANIFESTS[0]))
    broken["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_manifest(broken)


def test_the_git_sync_template_renders_to_a_valid_secret():
    secret = rendered_secret_template(GIT_SYNC_USERNAME="someone", GIT_SYNC_PASSWORD="x" * 20)
    validate_manifest(secret)
    assert secret["kind"] == "Secret"
    assert secret["metadata"]["name"] == VALUES["dags"]["gitSync"]["credentialsSecret"]
    assert "kind/git-sync-secret.yaml" in (REPO_ROOT / ".gitignore").read_text().splitlines()


@pytest.fixture(scope="module")
def chart_schema() -> dict:
    if not CHART_SCHEMA.exists():
        absent(f"the chart's values schema is not on this machine ({CHART_SCHEMA})")
    return json.loads(CHART_SCHEMA.read_text())


def undocumented_keys(values, schema: dict, path: str = "") -> list[str]:
    """Keys of `values` that the chart's schema does not describe."""
    if not isinstance(values, dict) or "properties" not in schema:
        if isinstance(values, list) and isinstance(schema.get("items"), dict):
            return [k for item in values for k in undocumented_keys(item, schema["items"], path)]
        return []
    unknown = []
    for key, value in values.items():
        if key in schema["properties"]:
            unknown += undocumented_keys(value, schema["properties"][key], f"{path}.{key}")
        elif schema.get("additionalProperties") is not True:
            unknown.append(f"{path}.{key}")
    return unknown


def test_helm_values_are_keys_the_chart_documents(chart_schema):
    jsonschema.Draft7Validator(chart_schema).validate(VALUES)
    assert undocumented_keys(VALUES, chart_schema) == []
    assert undocumented_keys({"scheduler": {"replicaz": 2}}, chart_schema) == [
        ".scheduler.replicaz"
    ]


def test_no_secret_value_in_the_committed_kind_files():
    secret_like = re.compile(
        r"(?i)(password|token|secret_?key|fernet)\w*['\"]?\s*[:=]\s*['\"]?[A-Za-z0-9+/_-]{8,}"
    )
    for path in sorted(KIND.iterdir()):
        assert not secret_like.search(path.read_text()), path.name


def test_the_install_script_passes_shellcheck():
    if shutil.which("shellcheck") is None:
        absent("ShellCheck is not installed here; `make test-tools` installs Debian's")
    result = subprocess.run(
        ["shellcheck", "--severity=style", str(KIND / "install_airflow.sh")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout


def test_the_install_script_checks_before_it_changes_anything():
    script = (KIND / "install_airflow.sh").read_text()
    first_change = script.index("kind create cluster")
    for check in ("command -v", "GIT_SYNC_PASSWORD", "docker info"):
        assert script.index(check) < first_change, check


def test_every_file_the_dockerfile_copies_exists_and_it_installs_the_lock():
    dockerfile = (KIND / "Dockerfile").read_text()
    sources = [
        source
        for line in dockerfile.splitlines()
        if line.startswith("COPY")
        for source in line.split()[1:-1]
        if not source.startswith("--")
    ]
    assert sources
    for source in sources:
        assert (REPO_ROOT / source).exists(), f"{source} (`make setup` makes .cache/jars)"
    assert "--requirement requirements.lock" in dockerfile
    locked = re.search(
        r"^apache-airflow==(\S+)$", (REPO_ROOT / "requirements.lock").read_text(), re.M
    )
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert f"FROM apache/airflow:{locked.group(1)}-python{python}" in dockerfile
    assert VALUES["airflowVersion"] == locked.group(1)


def test_the_cluster_maps_the_ports_and_the_lake_the_manifests_use():
    node = CLUSTER["nodes"][0]
    mapped = {m["containerPort"] for m in node["extraPortMappings"]}
    service = next(m for m in S3_MANIFESTS if m["kind"] == "Service")
    api_ports = VALUES["apiServer"]["service"]["ports"]
    assert {service["spec"]["ports"][0]["nodePort"], api_ports[0]["nodePort"]} <= mapped
    deployment = next(m for m in S3_MANIFESTS if m["kind"] == "Deployment")
    lake = deployment["spec"]["template"]["spec"]["volumes"][0]["hostPath"]["path"]
    assert lake in {mount["containerPath"] for mount in node["extraMounts"]}
    assert Path(node["extraMounts"][0]["hostPath"]).name == "lake"
