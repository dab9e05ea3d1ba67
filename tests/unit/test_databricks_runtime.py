"""The tests' Databricks side runs under what a Databricks job has: .venv-databricks holds
the libraries Databricks Runtime 18 LTS ships (env/databricks_runtime.txt), moved only
where a job library or the local Spark Connect client needs another version, plus the
job's own libraries; and the package imports under it."""

import json
import subprocess

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from worker.databricks_compute import (
    SERVERLESS_ENVIRONMENT_VERSION,
    normalized_name,
    pinned_versions,
)
from worker.paths import (
    DATABRICKS_PYTHON,
    DATABRICKS_RUNTIME_FILE,
    JOB_LIBRARIES_FILE,
    NOTEBOOKS_DIR,
    SERVERLESS_ENVIRONMENT_FILE,
)

RUNTIME = pinned_versions(DATABRICKS_RUNTIME_FILE)
# What the code in Spark's Python workers calls: these must be the runtime's, exactly.
WORKER_LIBRARIES = ("pandas", "pyarrow", "numpy")

_DISTRIBUTIONS = """
import json
from importlib.metadata import distributions
print(json.dumps([
    {"name": d.metadata["Name"], "version": d.version, "requires": d.requires or []}
    for d in distributions()
]))
"""


@pytest.fixture(scope="module")
def databricks_distributions() -> list[dict]:
    found = subprocess.run(
        [str(DATABRICKS_PYTHON), "-c", _DISTRIBUTIONS], capture_output=True, text=True, check=True
    )
    return json.loads(found.stdout)


def requirements_in_play(distributions: list[dict]) -> list[tuple[str, Requirement]]:
    """(who requires, what) for every requirement reached from the job's libraries and the
    local Spark Connect client, with the extras each was asked for."""
    by_name = {normalized_name(d["name"]): d for d in distributions}
    to_visit = [(name, "") for name in pinned_versions(JOB_LIBRARIES_FILE)]
    to_visit.append(("pyspark", "connect"))
    seen, found = set(), []
    while to_visit:
        name, extra = to_visit.pop()
        if (name, extra) in seen or name not in by_name:
            continue
        seen.add((name, extra))
        for requirement in map(Requirement, by_name[name]["requires"]):
            if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
                continue
            found.append((name, requirement))
            required = normalized_name(requirement.name)
            to_visit += [(required, e) for e in ("", *requirement.extras)]
    return found


def test_the_environment_holds_the_runtimes_libraries_or_says_who_moved_one(
    databricks_distributions,
):
    installed = {normalized_name(d["name"]): d["version"] for d in databricks_distributions}
    for name in WORKER_LIBRARIES:
        assert installed.get(name) == RUNTIME[name], name
    in_play = requirements_in_play(databricks_distributions)
    for name, version in RUNTIME.items():
        if installed.get(name) == version:
            continue
        movers = [
            who
            for who, requirement in in_play
            if normalized_name(requirement.name) == name
            and not requirement.specifier.contains(Version(version), prereleases=True)
        ]
        assert movers, f"{name} is {installed.get(name)}, not the runtime's {version}"


def serverless_constraints() -> dict[str, Requirement]:
    lines = SERVERLESS_ENVIRONMENT_FILE.read_text().splitlines()
    requirements = [Requirement(line) for line in lines if line and not line.startswith("#")]
    return {normalized_name(requirement.name): requirement for requirement in requirements}


def test_the_serverless_environment_allows_every_library_the_runtime_pins():
    """One tier stands for both computes: serverless environment 5 allows each version
    the tests run under, save the one library its list does not name."""
    assert f"version {SERVERLESS_ENVIRONMENT_VERSION} " in SERVERLESS_ENVIRONMENT_FILE.read_text()
    constraints = serverless_constraints()
    assert set(RUNTIME) - set(constraints) == {"platformdirs"}
    refused = {
        name: str(constraints[name].specifier)
        for name, version in RUNTIME.items()
        if name in constraints and not constraints[name].specifier.contains(version)
    }
    assert refused == {}


def test_every_package_module_imports_under_the_databricks_runtime():
    modules = sorted(
        ".".join(path.relative_to(NOTEBOOKS_DIR).with_suffix("").parts).removesuffix(".__init__")
        for path in (NOTEBOOKS_DIR / "lakehouse").rglob("*.py")
    )
    imported = subprocess.run(
        [
            str(DATABRICKS_PYTHON),
            "-c",
            "import importlib, sys\n"
            "for name in sys.argv[1:]:\n"
            "    importlib.import_module(name)\n"
            "print(len(sys.argv) - 1)",
            *modules,
        ],
        capture_output=True,
        text=True,
        cwd=NOTEBOOKS_DIR,
    )
    assert imported.returncode == 0, imported.stderr[-2000:]
    assert int(imported.stdout) == len(modules) > 20
