"""kind/, checked by the tools that deploy it, without a Docker engine: Helm renders and
lints the pinned official chart with exactly the install script's values and flags
(`install_airflow.sh template|lint`), every rendered object validates against the
Kubernetes version of the node image cluster.yaml pins, and the intent of the setup is
asserted on what was rendered, not on the values file."""

import functools
import importlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from lake_runs import in_terminal

from conftest import REPO_ROOT, absent
from laptop.airflow_local import LOCAL_SETTINGS

KIND = REPO_ROOT / "kind"
INSTALL_SCRIPT = (KIND / "install_airflow.sh").read_text()
CHART_VERSION = re.search(r"^CHART_VERSION=(\S+)$", INSTALL_SCRIPT, re.M).group(1)
IMAGE = re.search(r"^IMAGE=(\S+)$", INSTALL_SCRIPT, re.M).group(1)
CHART = REPO_ROOT.parent / "shared" / "helm" / "airflow" / f"airflow-{CHART_VERSION}.tgz"
CLUSTER = yaml.safe_load((KIND / "cluster.yaml").read_text())
NODE = CLUSTER["nodes"][0]
KUBERNETES_VERSION = re.fullmatch(r"kindest/node:v([\d.]+)@sha256:[0-9a-f]{64}", NODE["image"])[1]
VALUES = yaml.safe_load((KIND / "values-override.yaml").read_text())
DOCKERFILE = (KIND / "Dockerfile").read_text()
GIT_SYNC = {
    "GIT_SYNC_REPO": "https://git.example/team/workbench.git",
    "GIT_SYNC_BRANCH": "live-dags",
}
# Credentials the install takes from the environment: none may reach a rendered object.
CREDENTIALS = {
    "GIT_SYNC_USERNAME": "sentinel-git-user",
    "GIT_SYNC_PASSWORD": "sentinel-git-token-5e2f",
    "DATABRICKS_HOST": "https://sentinel-workspace.example",
    "DATABRICKS_TOKEN": "dapi-sentinel-7c1d",
}
# What the setup uses, and nothing else: the S3 server, Airflow's four components, the
# metadata database and its migration job, their accounts, config and generated keys.
# The chart renders `airflow-broker-url` even for a LocalExecutor ("defensively", says its
# template); no pod reads it (test_no_pod_reads_a_secret_the_setup_does_not_make).
EXPECTED_OBJECTS = {
    ("Deployment", "s3"),
    ("Service", "s3"),
    ("Deployment", "airflow-api-server"),
    ("Deployment", "airflow-dag-processor"),
    ("Deployment", "airflow-scheduler"),
    ("Deployment", "airflow-triggerer"),
    ("Service", "airflow-api-server"),
    ("Service", "airflow-scheduler"),  # its task log server
    ("Service", "airflow-triggerer"),  # its trigger log server
    ("StatefulSet", "airflow-postgresql"),
    ("Service", "airflow-postgresql"),
    ("Service", "airflow-postgresql-hl"),
    ("Job", "airflow-run-airflow-migrations"),
    ("ServiceAccount", "airflow-api-server"),
    ("ServiceAccount", "airflow-dag-processor"),
    ("ServiceAccount", "airflow-scheduler"),
    ("ServiceAccount", "airflow-triggerer"),
    ("ServiceAccount", "airflow-migrate-database-job"),
    ("ConfigMap", "airflow-config"),
    ("Secret", "airflow-api-secret-key"),
    ("Secret", "airflow-jwt-secret"),
    ("Secret", "airflow-fernet-key"),
    ("Secret", "airflow-broker-url"),
}
GENERATED_KEYS = ("airflow-api-secret-key", "airflow-jwt-secret", "airflow-fernet-key")
HELM_VERSION = re.search(r"^HELM_VERSION := (\S+)$", (REPO_ROOT / "Makefile").read_text(), re.M)[1]


@functools.cache
def helm() -> str:
    found = os.environ.get("HELM") or shutil.which("helm")
    if not found:
        absent("Helm is not built here; `make helm` builds it (make test does)")
    # Built by `go install`, it reports its major and minor version only.
    reported = subprocess.run([found, "version", "--short"], capture_output=True, text=True)
    assert HELM_VERSION.startswith(reported.stdout.split("+")[0].strip()), reported.stdout
    return found


def chart_package() -> Path:
    if not CHART.exists():
        absent(f"the official Airflow chart {CHART_VERSION} is not on this machine ({CHART})")
    return CHART


def script_environment(**environment: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_SYNC", "DATABRICKS"))}
    return {**kept, "HELM": helm(), **environment}


def install_script(command: str, chart: Path, **environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(KIND / "install_airflow.sh"), command, str(chart)],
        env=script_environment(**environment),
        capture_output=True,
        text=True,
    )


def render(**environment: str) -> tuple[str, list[dict]]:
    result = install_script("template", chart_package(), **environment)
    assert result.returncode == 0, result.stderr
    return result.stdout, [o for o in yaml.safe_load_all(result.stdout) if o]


@pytest.fixture(scope="module")
def rendered() -> list[dict]:
    return render(**CREDENTIALS)[1]


@pytest.fixture(scope="module")
def rendered_with_git_sync() -> list[dict]:
    return render(**CREDENTIALS, **GIT_SYNC)[1]


def named(objects: list[dict], kind: str, name: str) -> dict:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def pod_specs(objects: list[dict]) -> dict[str, dict]:
    return {
        o["metadata"]["name"]: o["spec"]["template"]["spec"]
        for o in objects
        if o["kind"] in ("Deployment", "StatefulSet", "Job")
    }


def containers(pod: dict) -> list[dict]:
    return pod.get("initContainers", []) + pod["containers"]


def airflow_config(objects: list[dict]) -> dict[str, str]:
    """`section.option` -> value, from the airflow.cfg the chart renders."""
    config, section = {}, ""
    for line in named(objects, "ConfigMap", "airflow-config")["data"]["airflow.cfg"].splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif " = " in line:
            option, value = line.split(" = ", 1)
            config[f"{section}.{option}"] = value
    return config


def environment_of(container: dict) -> dict[str, dict]:
    return {variable["name"]: variable for variable in container.get("env", [])}


def secrets_read(pod: dict) -> set[tuple[str, str | None]]:
    """(Secret, key) for each key a pod reads; (Secret, None) for a Secret read whole."""
    read = {(v["secret"]["secretName"], None) for v in pod.get("volumes", []) if "secret" in v}
    for container in containers(pod):
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                read.add((source["secretRef"]["name"], None))
        for variable in container.get("env", []):
            if reference := variable.get("valueFrom", {}).get("secretKeyRef"):
                read.add((reference["name"], reference["key"]))
    return read


def secrets_the_install_makes() -> set[tuple[str, str | None]]:
    """(Secret, key) for each literal install_airflow.sh puts in a Secret, and (Secret, None)."""
    made = set()
    creations = re.findall(r"create secret generic (\S+)(.*?)--dry-run", INSTALL_SCRIPT, re.S)
    for name, command in creations:
        made.add((name, None))
        made |= {(name, key) for key in re.findall(r"--from-literal=([\w-]+)=", command)}
    return made


def memory_request(container: dict) -> float:
    """The memory a container requests, in GiB."""
    quantity = container["resources"]["requests"]["memory"]
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", quantity).groups()
    return int(number) / (1024 if unit == "Mi" else 1)


def test_the_chart_lints_with_the_install_values():
    for environment in ({}, GIT_SYNC):
        result = install_script("lint", chart_package(), **environment)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "0 chart(s) failed" in result.stdout


def test_every_rendered_object_validates_against_the_node_images_kubernetes(
    rendered, rendered_with_git_sync
):
    assert len(rendered) == len(EXPECTED_OBJECTS)
    for manifest in rendered + rendered_with_git_sync:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    broken = json.loads(json.dumps(named(rendered, "Deployment", "s3")))
    broken["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_a_chart_of_another_version_than_the_install_is_refused_in_one_line(tmp_path):
    other = tmp_path / "airflow-9.9.9.tgz"
    chart_yaml = b"apiVersion: v2\nname: airflow\nversion: 9.9.9\n"
    with tarfile.open(other, "w:gz") as package:
        entry = tarfile.TarInfo("airflow/Chart.yaml")
        entry.size = len(chart_yaml)
        package.addfile(entry, io.BytesIO(chart_yaml))
    # In a terminal, as the developer meets it.
    command = ["bash", str(KIND / "install_airflow.sh"), "template", str(other)]
    code, shown = in_terminal(command, script_environment(), timeout=60)
    assert code == 1
    assert shown.count("\n") == 1
    assert f"is chart 9.9.9; the install uses {CHART_VERSION}" in shown


def test_a_cluster_without_a_pinned_node_image_is_refused_in_one_line(tmp_path):
    for name in ("install_airflow.sh", "values-override.yaml", "s3.yaml"):
        shutil.copy(KIND / name, tmp_path / name)
    unpinned = (KIND / "cluster.yaml").read_text().replace(NODE["image"], "kindest/node:latest")
    (tmp_path / "cluster.yaml").write_text(unpinned)
    command = ["bash", str(tmp_path / "install_airflow.sh"), "template", str(chart_package())]
    code, shown = in_terminal(command, script_environment(), timeout=60)
    assert code == 1
    assert shown.count("\n") == 1
    assert "kind/cluster.yaml pins no node image" in shown


def test_only_what_the_setup_uses_is_rendered(rendered):
    assert {(o["kind"], o["metadata"]["name"]) for o in rendered} == EXPECTED_OBJECTS
    claims = {
        (name, claim["metadata"]["name"])
        for o in rendered
        if o["kind"] == "StatefulSet"
        for name in [o["metadata"]["name"]]
        for claim in o["spec"].get("volumeClaimTemplates", [])
    }
    assert claims == {("airflow-postgresql", "data")}


def test_every_secret_key_a_pod_reads_is_made_by_the_chart_or_the_install(
    rendered, rendered_with_git_sync
):
    made_by_install = secrets_the_install_makes()
    assert ("airflow-metadata-connection", "connection") in made_by_install
    for objects in (rendered, rendered_with_git_sync):
        made_by_chart = {
            (secret["metadata"]["name"], key)
            for secret in objects
            if secret["kind"] == "Secret" and secret["metadata"]["name"] != "airflow-broker-url"
            for key in [None, *secret["data"]]
        }
        for name, pod in pod_specs(objects).items():
            assert secrets_read(pod) <= made_by_chart | made_by_install, name


def test_the_executor_and_the_auth_manager_are_the_locked_airflows(rendered):
    config = airflow_config(rendered)
    assert config["core.executor"] == "LocalExecutor"
    module, _, name = config["core.auth_manager"].rpartition(".")
    assert getattr(importlib.import_module(module), name).__module__ == module
    assert "fab" not in config["core.auth_manager"]
    # A task's log is fetched from the host it records: a Deployment's pod name resolves
    # nowhere, its IP does.
    assert named(rendered, "Deployment", "airflow-scheduler")
    module, _, name = config["core.hostname_callable"].rpartition(".")
    assert f"{module}.{getattr(importlib.import_module(module), name).__name__}" == (
        "airflow.utils.net.get_host_ip_address"
    )
    assert not [p for p in pod_specs(rendered) if "create-user" in p]


def test_every_airflow_container_runs_the_built_image_never_pulled(rendered):
    for name, pod in pod_specs(rendered).items():
        if name == "airflow-postgresql":
            continue
        for container in containers(pod):
            assert (container["image"], container["imagePullPolicy"]) == (IMAGE, "Never"), name
    lock = (REPO_ROOT / "requirements.lock").read_text()
    locked = re.search(r"^apache-airflow==(\S+)$", lock, re.M)
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert f"FROM apache/airflow:{locked[1]}-python{python}" in DOCKERFILE
    assert VALUES["airflowVersion"] == locked[1]


def test_the_dags_come_from_the_image_unless_git_sync_is_asked_for(rendered):
    dags_folder = airflow_config(rendered)["core.dags_folder"]
    assert re.search(rf"^COPY --chown=\S+ dags/ {dags_folder}/?$", DOCKERFILE, re.M)
    assert "!dags/" in (REPO_ROOT / ".dockerignore").read_text().splitlines()
    images = {c["image"] for pod in pod_specs(rendered).values() for c in containers(pod)}
    assert not [image for image in images if "git-sync" in image]


def test_git_sync_pulls_the_given_repository_branch_and_ref(rendered_with_git_sync):
    synced = {
        (name, container["name"]): container
        for name, pod in pod_specs(rendered_with_git_sync).items()
        for container in containers(pod)
        if "git-sync" in container["image"]
    }
    # Everything that parses or runs DAG code: a first clone, then a sidecar that pulls.
    assert set(synced) == {
        (component, container)
        for component in ("airflow-dag-processor", "airflow-scheduler", "airflow-triggerer")
        for container in ("git-sync-init", "git-sync")
    }
    for container in synced.values():
        env = environment_of(container)
        assert env["GITSYNC_REPO"]["value"] == GIT_SYNC["GIT_SYNC_REPO"]
        assert env["GITSYNC_REF"]["value"] == GIT_SYNC["GIT_SYNC_BRANCH"]
        assert env["GIT_SYNC_BRANCH"]["value"] == GIT_SYNC["GIT_SYNC_BRANCH"]
        assert env["GITSYNC_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "git-credentials"


def test_connections_come_from_secrets_and_no_credential_is_rendered(rendered):
    for name, pod in pod_specs(rendered).items():
        if name.startswith("airflow-") and name != "airflow-postgresql":
            main = pod["containers"][0]
            assert {"secretRef": {"name": "airflow-connections"}} in main["envFrom"], name
    text, again = render(**CREDENTIALS, **GIT_SYNC)
    for value in CREDENTIALS.values():
        assert value not in text
    for secret in GENERATED_KEYS:
        assert named(rendered, "Secret", secret)["data"] != named(again, "Secret", secret)["data"]
    credential = re.compile("PASSWORD|TOKEN|SECRET|^AIRFLOW_CONN_|_CONN$")
    literal = [
        (pod_name, variable["name"])
        for pod_name, pod in pod_specs(rendered).items()
        for container in containers(pod)
        for variable in container.get("env", [])
        if credential.search(variable["name"]) and "value" in variable
    ]
    assert literal == []


def test_the_s3_service_and_the_lake_volume_are_those_the_cluster_and_the_connection_use(rendered):
    s3 = named(rendered, "Deployment", "s3")["spec"]["template"]["spec"]
    assert s3["volumes"][0]["hostPath"]["path"] in {m["containerPath"] for m in NODE["extraMounts"]}
    assert Path(NODE["extraMounts"][0]["hostPath"]).name == "lake"
    service = named(rendered, "Service", "s3")
    port = service["spec"]["ports"][0]
    endpoint = f"http://{service['metadata']['name']}.{service['metadata']['namespace']}"
    assert f'"endpoint_url": "{endpoint}.svc.cluster.local:{port["port"]}"' in INSTALL_SCRIPT


def test_kind_maps_the_node_ports_of_the_ui_and_s3(rendered):
    mapped = {m["containerPort"] for m in NODE["extraPortMappings"]}
    for service in ("airflow-api-server", "s3"):
        spec = named(rendered, "Service", service)["spec"]
        assert spec["type"] == "NodePort"
        assert spec["ports"][0]["nodePort"] in mapped, service


@pytest.mark.parametrize("git_sync", [False, True], ids=["image-dags", "git-sync"])
def test_the_pods_requests_fit_the_memory_the_kind_guide_states(git_sync, request):
    objects = request.getfixturevalue("rendered_with_git_sync" if git_sync else "rendered")
    guide = (REPO_ROOT / "docs" / "kind.md").read_text()
    stated = float(re.search(r"About (\d+) GiB of memory for the cluster", guide)[1])
    requested = 0.0
    for name, pod in pod_specs(objects).items():
        for container in containers(pod):
            resources = container.get("resources", {})
            assert "memory" in resources.get("requests", {}), f"{name}/{container['name']}"
            assert "memory" in resources.get("limits", {}), f"{name}/{container['name']}"

        # A pod's request: its containers together, or its largest init container.
        running = sum(memory_request(c) for c in pod["containers"])
        requested += max([running, *map(memory_request, pod.get("initContainers", []))])
    assert requested <= stated


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
    first_change = INSTALL_SCRIPT.index("kind create cluster")
    for check in ("command -v", "GIT_SYNC_PASSWORD", "docker info"):
        assert INSTALL_SCRIPT.index(check) < first_change, check


def test_every_file_the_dockerfile_copies_exists_and_it_installs_the_lock():
    sources = [
        source
        for line in DOCKERFILE.splitlines()
        if line.startswith("COPY")
        for source in line.split()[1:-1]
        if not source.startswith("--")
    ]
    assert sources
    for source in sources:
        assert (REPO_ROOT / source).exists(), f"{source} (`make setup` makes .cache/jars)"
    assert "--requirement requirements.lock" in DOCKERFILE


def test_the_scheduler_gets_the_local_settings_make_airflow_uses(rendered):
    """They make its LocalExecutor's tasks import the providers once (BENCHMARKS.md)."""
    config = named(rendered, "ConfigMap", "airflow-config")["data"]
    assert config["airflow_local_settings.py"] == LOCAL_SETTINGS.read_text().rstrip("\n")
    scheduler = pod_specs(rendered)["airflow-scheduler"]
    (container,) = [c for c in scheduler["containers"] if c["name"] == "scheduler"]
    mounted = {m["mountPath"]: m.get("subPath") for m in container["volumeMounts"]}
    home = next(e["value"] for e in container["env"] if e["name"] == "AIRFLOW_HOME")
    path = f"{home}/config/airflow_local_settings.py"
    assert mounted[path] == "airflow_local_settings.py"
    assert "airflow scheduler" in " ".join(container.get("args", []) + container.get("command", []))
