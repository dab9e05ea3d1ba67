"""The Databricks Asset Bundle, checked without a workspace: its jobs are the graph,
its resources parse into the bundle's and the SDK's own types, and it holds no secret."""

import ast
import importlib.util
import json
import re
import shlex
import subprocess
import sys
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

import pytest
import yaml
from databricks.bundles.dashboards import Dashboard
from databricks.bundles.jobs import Job
from databricks.sdk.service.jobs import JobSettings

from lakehouse.graph import RUN_PARAMETERS
from lakehouse.lake import Lake
from lakehouse.runtime import SETTING_WIDGETS
from lakehouse.settings import LakeSettings
from lakehouse.steps import PIPELINE, TABLES
from worker.bundle_job import CLUSTER_JOB, COMPUTE_JOBS, MEDALLION_JOB, render
from worker.databricks_compute import (
    ENVIRONMENT_KEY,
    SERVERLESS_ENVIRONMENT_VERSION,
    normalized_name,
    pinned_versions,
)
from worker.paths import (
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


@pytest.mark.parametrize("job", COMPUTE_JOBS.values())
def test_the_medallion_job_has_the_graphs_tasks_and_dependencies(job):
    tasks = {task["task_key"]: task for task in JOBS[job]["tasks"]}
    assert set(tasks) == {node.name for node in PIPELINE}
    for node in PIPELINE:
        depends_on = {d["task_key"] for d in tasks[node.name].get("depends_on", [])}
        assert depends_on == set(node.depends_on)
        notebook = BUNDLE_JOBS_FILE.parent / tasks[node.name]["notebook_task"]["notebook_path"]
        assert notebook.resolve().is_file()


@pytest.mark.parametrize("job", COMPUTE_JOBS.values())
def test_job_parameters_are_the_widgets_the_notebooks_read(job):
    names = [p["name"] for p in JOBS[job]["parameters"]]
    assert names == [*RUN_PARAMETERS, *SETTING_WIDGETS]


def test_every_task_installs_the_job_libraries_the_tests_ran():
    locked = pinned_versions(DATABRICKS_LOCK_FILE)
    assert {name: locked.get(name) for name in JOB_LIBRARIES} == JOB_LIBRARIES, "run `make lock`"
    pinned = [f"{name}=={version}" for name, version in JOB_LIBRARIES.items()]
    for task in JOBS[CLUSTER_JOB]["tasks"]:
        assert task["job_cluster_key"] == JOBS[CLUSTER_JOB]["job_clusters"][0]["job_cluster_key"]
        assert [library["pypi"]["package"] for library in task["libraries"]] == pinned
    # Serverless: no task libraries, the job's environment, at the version the tests stand for.
    [environment] = JOBS[MEDALLION_JOB]["environments"]
    assert environment["spec"] == {
        "environment_version": SERVERLESS_ENVIRONMENT_VERSION,
        "dependencies": pinned,
    }
    for task in JOBS[MEDALLION_JOB]["tasks"]:
        assert "libraries" not in task and "job_cluster_key" not in task
        assert task["environment_key"] == environment["environment_key"] == ENVIRONMENT_KEY


def test_the_job_cluster_has_an_explicit_size():
    [cluster] = JOBS[CLUSTER_JOB]["job_clusters"]
    assert cluster["new_cluster"]["num_workers"] == "${var.cluster_workers}"
    assert int(BUNDLE["variables"]["cluster_workers"]["default"]) >= 1


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


@pytest.mark.parametrize("job", COMPUTE_JOBS.values())
def test_the_deployed_job_parses_into_the_jobs_api_settings(job):
    variables = {name: f"<{name}>" for name in BUNDLE["variables"]}
    spec = with_variables(JOBS[job], variables)
    settings = JobSettings.from_dict(spec)
    assert [task.task_key for task in settings.tasks] == [t["task_key"] for t in spec["tasks"]]
    assert settings.queue.enabled
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


def guide_deploy_commands() -> list[str]:
    """The shell lines of docs/databricks.md's "Deploy and run" block, comments dropped."""
    guide = (REPO_ROOT / "docs" / "databricks.md").read_text()
    section = guide[guide.index("**Deploy and run**") :]
    block = section[section.index("```bash") + len("```bash") : section.index("```\n")]
    lines = [line.split("#")[0].strip() for line in block.splitlines()]
    return [line for line in lines if line]


def values_of_command(command: str, exported: dict[str, str]) -> tuple[list[str], str, dict]:
    """(verb and arguments, target, the variables it resolves) of a `databricks bundle` line,
    by the precedence of "Substitutions and variables in Databricks Asset Bundles"
    (https://docs.databricks.com/dev-tools/bundles/variables.html): --var, then
    BUNDLE_VAR_ variables, then the target's `variables`, then the default."""
    words = shlex.split(command)
    assert words[:2] == ["databricks", "bundle"], command
    arguments, given = [], {}
    target = next(name for name, t in BUNDLE["targets"].items() if t.get("default"))
    options = iter(words[2:])
    for word in options:
        if word == "-t":
            target = next(options)
        elif word == "--params":
            next(options)
        elif word.startswith("--var="):
            name, _, value = word.removeprefix("--var=").partition("=")
            given[name] = value
        elif not word.startswith("-"):
            arguments.append(word)
    values = {
        name: str(spec["default"])
        for name, spec in BUNDLE["variables"].items()
        if "default" in spec
    }
    values |= BUNDLE["targets"][target].get("variables", {}) | exported | given
    return arguments, target, values


def test_the_guides_deploy_commands_give_every_variable_a_value():
    exported, targets, runs = {}, set(), []
    for command in guide_deploy_commands():
        if command.startswith("export "):
            name, _, value = command.removeprefix("export ").partition("=")
            if name.startswith("BUNDLE_VAR_"):
                exported[name.removeprefix("BUNDLE_VAR_")] = value
            continue
        (verb, *job), target, values = values_of_command(command, exported)
        assert verb in ("validate", "deploy", "run"), command
        missing = sorted(set(BUNDLE["variables"]) - {n for n, v in values.items() if v})
        assert not missing, f"`{command}` leaves {missing} without a value"
        targets.add(target)
        if verb == "run":
            runs += job
    assert targets == set(BUNDLE["targets"])
    assert runs and set(runs) <= set(JOBS), runs


def test_prod_is_writable_by_its_deployer_only():
    prod = BUNDLE["targets"]["prod"]
    assert "/Workspace/Shared" not in prod["workspace"]["root_path"]
    assert "${workspace.current_user.userName}" in prod["workspace"]["root_path"]
    assert {"level": "CAN_VIEW", "group_name": "users"} in prod["permissions"]
    assert all(grant["level"] == "CAN_VIEW" for grant in prod["permissions"])
