"""The Databricks Asset Bundle, checked without a workspace: its jobs are the graph,
its resources parse into the bundle's and the SDK's own types, and it holds no secret."""

import ast
import importlib.util
import json
import re
import subprocess
import sys
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

import pytest
import yaml
from databricks.bundles.dashboards import Dashboard
from databricks.bundles.jobs import Job
from databricks.sdk.service.jobs import JobSettings

from lakehouse.graph import PIPELINE, RUN_PARAMETERS, TABLES
from lakehouse.lake import Lake
from lakehouse.runtime import SETTING_WIDGETS
from lakehouse.settings import LakeSettings
from localenv.bundle_job import MEDALLION_JOB, normalized_name, pinned_versions, render
from localenv.paths import (
    BUNDLE_JOBS_FILE,
    DATABRICKS_LOCK_FILE,
    DATABRICKS_RUNTIME_FILE,
    JOB_LIBRARIES_FILE,
    REPO_ROOT,
)

BUNDLE = yaml.safe_load((REPO_ROOT / "databricks.yml").read_text())
RESOURCE_FILES = sorted((REPO_ROOT / "resources").glob("*.yml"))
RESOURCES = [yaml.safe_load(path.read_text())["resources"] for path in RESOURCE_FILES]
JOBS = {name: job for r in RESOURCES for name, job in r.get("jobs", {}).items()}
DASHBOARDS = {name: d for r in RESOURCES for name, d in r.get("dashboards", {}).items()}
DASHBOARD_FILE = REPO_ROOT / "dashboards" / "stackexchange_overview.lvdash.json"
VARIABLE = re.compile(r"\$\{var\.([a-z_]+)\}")
# What the Databricks runtime ships: its Python libraries, and its Spark.
RUNTIME_PROVIDES = {*pinned_versions(DATABRICKS_RUNTIME_FILE), "pyspark"}
JOB_LIBRARIES = pinned_versions(JOB_LIBRARIES_FILE)


def with_variables(value, variables: dict[str, str]):
    """`value` with `${var.x}` replaced, as `databricks bundle deploy` does."""
    text = json.dumps(value)
    return json.loads(VARIABLE.sub(lambda m: variables[m.group(1)], text))


def test_the_committed_jobs_are_rendered_from_the_graph():
    assert BUNDLE_JOBS_FILE.read_text() == render(JOB_LIBRARIES_FILE), "run `make bundle`, commit"


def test_the_medallion_job_has_the_graphs_tasks_and_dependencies():
    tasks = {task["task_key"]: task for task in JOBS[MEDALLION_JOB]["tasks"]}
    assert set(tasks) == {node.notebook for node in PIPELINE}
    for node in PIPELINE:
        depends_on = {d["task_key"] for d in tasks[node.notebook].get("depends_on", [])}
        assert depends_on == set(node.depends_on)
        notebook = BUNDLE_JOBS_FILE.parent / tasks[node.notebook]["notebook_task"]["notebook_path"]
        assert notebook.resolve().is_file()


def test_job_parameters_are_the_widgets_the_notebooks_read():
    names = [p["name"] for p in JOBS[MEDALLION_JOB]["parameters"]]
    assert names == [*RUN_PARAMETERS, *SETTING_WIDGETS]


def test_every_task_installs_the_job_libraries_the_tests_ran():
    locked = pinned_versions(DATABRICKS_LOCK_FILE)
    assert {name: locked.get(name) for name in JOB_LIBRARIES} == JOB_LIBRARIES, "run `make lock`"
    for task in JOBS[MEDALLION_JOB]["tasks"]:
        packages = [library["pypi"]["package"] for library in task["libraries"]]
        assert packages == [f"{name}=={version}" for name, version in JOB_LIBRARIES.items()]


def imported_distributions(package_dir) -> set[str]:
    """The installed distributions whose modules the package's files import."""
    modules = set()
    for path in package_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module)
    by_top_name = packages_distributions()
    found = set()
    for module in modules:
        top = module.split(".")[0]
        # The package's imports of itself are deployed with it, not installed.
        if top in sys.stdlib_module_names or top == package_dir.name or top not in by_top_name:
            continue
        origin = Path(importlib.util.find_spec(module).origin).resolve()
        # A namespace such as `databricks` spans several distributions: find the file's.
        for name in by_top_name[top]:
            files = distribution(name).files or []
            if any(Path(distribution(name).locate_file(f)).resolve() == origin for f in files):
                found.add(normalized_name(name))
    return found


def test_the_job_installs_what_the_package_imports_beyond_the_runtime():
    imported = imported_distributions(REPO_ROOT / "notebooks" / "lakehouse")
    assert imported - RUNTIME_PROVIDES == {normalized_name(name) for name in JOB_LIBRARIES}


def test_every_variable_used_is_declared_and_every_declared_one_used():
    used = set()
    for path in [REPO_ROOT / "databricks.yml", *RESOURCE_FILES]:
        used |= set(VARIABLE.findall(path.read_text()))
    assert used == set(BUNDLE["variables"])


def test_resources_parse_into_the_bundle_types():
    for name, job in JOBS.items():
        assert Job.from_dict(job).name == name
    dashboard = Dashboard.from_dict(DASHBOARDS["stackexchange_overview"])
    assert dashboard.display_name == "StackExchange Overview"


def test_the_deployed_job_parses_into_the_jobs_api_settings():
    variables = {name: f"<{name}>" for name in BUNDLE["variables"]}
    job = with_variables(JOBS[MEDALLION_JOB], variables)
    settings = JobSettings.from_dict(job)
    assert [task.task_key for task in settings.tasks] == [t["task_key"] for t in job["tasks"]]
    assert settings.job_clusters[0].new_cluster.policy_id == "<cluster_policy_id>"
    assert JobSettings.from_dict(settings.as_dict()).as_dict() == settings.as_dict()


def test_dev_is_the_default_target_in_development_mode():
    targets = BUNDLE["targets"]
    assert targets["dev"] == {**targets["dev"], "default": True, "mode": "development"}
    assert targets["prod"]["mode"] == "production"


def resolved_variables(target: str, user: str) -> dict[str, str]:
    """The variables a deploy to `target` by `user` (short name) resolves, as the CLI
    does: the target's own values over the declared defaults."""
    values = {name: spec.get("default", "") for name, spec in BUNDLE["variables"].items()}
    values.update(BUNDLE["targets"][target].get("variables", {}))
    return {
        name: str(value).replace("${workspace.current_user.short_name}", user)
        for name, value in values.items()
    }


def tables_of(target: str, user: str) -> set[str]:
    catalog = resolved_variables(target, user)["catalog"]
    lake = Lake(None, LakeSettings(catalog=catalog, raw_root="s3://landing/raw"))
    return {lake.sql_name(name) for name in TABLES}


def test_a_dev_deploy_never_names_a_prod_table():
    assert all("catalog" in target.get("variables", {}) for target in BUNDLE["targets"].values())
    # A default would be shared by any target that forgets its own.
    assert "default" not in BUNDLE["variables"]["catalog"]
    prod = tables_of("prod", "alice")
    assert tables_of("dev", "alice").isdisjoint(prod)
    assert tables_of("dev", "alice").isdisjoint(tables_of("dev", "bob"))
    assert tables_of("prod", "bob") == prod


def test_only_the_notebooks_and_their_package_are_synced():
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    synced = {"notebooks", "resources", "dashboards", "databricks.yml", ".gitignore"}
    patterns = BUNDLE["sync"]["exclude"]
    for top in {path.split("/")[0] for path in tracked} - synced:
        excluded = any(
            pattern in (f"{top}/**", top)
            or re.fullmatch(pattern.replace(".", r"\.").replace("*", ".*"), top)
            for pattern in patterns
        )
        assert excluded, f"{top} would be uploaded to the workspace; exclude it in databricks.yml"


@pytest.mark.parametrize(
    "secret",
    [r"dapi[0-9a-f]{16,}", r"AKIA[0-9A-Z]{16}", r"(?i)(token|password|secret)\s*[:=]\s*\S+"],
)
def test_no_secret_in_the_bundle(secret):
    for path in [REPO_ROOT / "databricks.yml", *RESOURCE_FILES, *REPO_ROOT.glob("dashboards/*")]:
        assert not re.search(secret, path.read_text()), f"{path.name} holds a secret"


def test_dashboard_widgets_use_their_datasets_columns():
    dashboard = json.loads(
        (REPO_ROOT / "dashboards/stackexchange_overview.lvdash.json").read_text()
    )
    columns = {}
    for dataset in dashboard["datasets"]:
        select = re.match(r"SELECT (.+?) FROM", "".join(dataset["queryLines"]))
        columns[dataset["name"]] = {c.strip() for c in select.group(1).split(",")}
    for page in dashboard["pages"]:
        for item in page["layout"]:
            for query in item["widget"]["queries"]:
                used = set()
                for field in query["query"]["fields"]:
                    used |= set(re.findall(r"`([a-z_]+)`", field["expression"]))
                assert used <= columns[query["query"]["datasetName"]], item["widget"]["name"]
