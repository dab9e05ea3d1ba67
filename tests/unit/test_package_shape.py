"""The packages' shape: the README's table of where each package runs is what the code
does. A package imports only packages above it in the table that run everywhere it runs
(never back, not even inside a function), entry points lead only to packages that run
where they are loaded, and the Kind image carries exactly what Airflow runs. The deployed
package documents every public name."""

import ast
import re
import tokenize
import tomllib

import pytest

from lakehouse.table_locations import LOGICAL_NAME
from worker.paths import REPO_ROOT

RUNTIMES = ("Databricks", "Airflow", "laptop")
TABLE_ROW = re.compile(r"^\| `(\w+)` \| `([\w/]+)/` \|(.*)$")


def package_table(readme: str) -> dict[str, tuple[str, set[str]]]:
    """The README's package table, in its order: each package's folder and where it runs."""
    table = {}
    for line in readme.splitlines():
        if match := TABLE_ROW.match(line):
            package, folder, rest = match.groups()
            marks = [cell.strip() for cell in rest.split("|")][: len(RUNTIMES)]
            assert set(marks) <= {"✓", ""}, f"README: {package}'s runtimes are ✓ or empty"
            table[package] = (folder, {r for r, m in zip(RUNTIMES, marks, strict=True) if m})
    return table


PACKAGES = package_table((REPO_ROOT / "README.md").read_text())


def may_import(table: dict[str, tuple[str, set[str]]]) -> dict[str, set[str]]:
    """Each package, and the packages above it that run everywhere it does."""
    names = list(table)
    return {
        name: {above for above in names[: names.index(name)] if table[name][1] <= table[above][1]}
        for name in names
    }


MAY_IMPORT = may_import(PACKAGES)
LAKEHOUSE_DIR = REPO_ROOT / PACKAGES["lakehouse"][0]


def test_the_table_names_every_package_where_it_runs():
    assert list(PACKAGES) == ["lakehouse", "dump_generator", "worker", "orchestration", "laptop"]
    assert PACKAGES["lakehouse"][1] == set(RUNTIMES)
    assert PACKAGES["laptop"][1] == {"laptop"}
    folders = {REPO_ROOT / folder for folder, _ in PACKAGES.values()}
    on_disk = {init.parent for init in (REPO_ROOT / "env").glob("*/__init__.py")}
    assert on_disk <= folders, "a package under env/ is missing from the README's table"
    assert MAY_IMPORT["orchestration"] == {"lakehouse", "dump_generator", "worker"}
    assert MAY_IMPORT["dump_generator"] == {"lakehouse"}


def wrong_way_imports(package: str, source: str, where: str) -> list[str]:
    """`where:line: imports X` for each import of a project package `package` may not use."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in MAY_IMPORT and top != package and top not in MAY_IMPORT[package]:
                found.append(f"{where}:{node.lineno}: {package} imports {name}")
    return found


def test_the_check_finds_a_lazy_wrong_way_import():
    source = "import os\n\ndef f():\n    from laptop.lab import Lab\n"
    assert wrong_way_imports("worker", source, "x.py") == ["x.py:4: worker imports laptop.lab"]
    assert wrong_way_imports("laptop", source, "x.py") == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_points_the_wrong_way(package):
    found = []
    for path in sorted((REPO_ROOT / PACKAGES[package][0]).rglob("*.py")):
        where = str(path.relative_to(REPO_ROOT))
        found += wrong_way_imports(package, path.read_text(), where)
    assert not found, "\n".join(found)


# Where each entry point is loaded: `lakehouse` looks its local Spark up off Databricks,
# and `lake` is the laptop's command.
LOADED_ON = {"lakehouse.local_spark": {"Airflow", "laptop"}, "scripts": {"laptop"}}


def entry_point_targets() -> list[tuple[str, str, str]]:
    """(group, name, package) of each entry point and script in pyproject.toml."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    groups = {"scripts": project["scripts"], **project["entry-points"]}
    return [
        (group, name, target.split(":")[0].split(".")[0])
        for group, points in groups.items()
        for name, target in points.items()
    ]


@pytest.mark.parametrize("group, name, package", entry_point_targets())
def test_an_entry_point_leads_to_a_package_that_runs_where_it_is_loaded(group, name, package):
    """An entry point is an import grep does not see: `lakehouse` finds the local Spark
    through one, so it must lead to a package that runs wherever it is looked up."""
    assert LOADED_ON[group] <= PACKAGES[package][1], f"{group}.{name} leads to {package}"


def image_folders() -> set[str]:
    """The project folders kind/Dockerfile copies into the image."""
    dockerfile = (REPO_ROOT / "kind" / "Dockerfile").read_text()
    copied = re.findall(r"^COPY --chown=\S+ (\S+)/ ", dockerfile, re.MULTILINE)
    return {folder for folder in copied if not folder.startswith(".")}


def test_the_kind_image_carries_what_airflow_runs_and_nothing_else():
    on_airflow = {folder for folder, where in PACKAGES.values() if "Airflow" in where}
    # The notebooks travel with their package, as they do to Databricks.
    expected = {f"{folder}/" for folder in on_airflow} - {"notebooks/lakehouse/"} | {"notebooks/"}
    assert {f"{folder}/" for folder in image_folders()} == expected


def test_kinds_s3_pod_runs_a_module_the_image_carries():
    s3_pod = (REPO_ROOT / "kind" / "s3.yaml").read_text()
    module = re.search(r'command: \["python", "-m", "([\w.]+)"\]', s3_pod).group(1)
    assert "Airflow" in PACKAGES[module.split(".")[0]][1]
    source = (REPO_ROOT / "env" / f"{module.replace('.', '/')}.py").read_text()
    assert 'if __name__ == "__main__":' in source, f"{module} does nothing run as a module"


def test_every_public_function_and_class_of_lakehouse_says_what_it_is():
    """The deployed package is what a newcomer reads first: each public name of it carries
    a one-line docstring."""
    missing = []
    for path in sorted(LAKEHOUSE_DIR.rglob("*.py")):
        tree = ast.parse(path.read_text())
        classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
        members = [node for c in classes for node in c.body]
        for node in [*tree.body, *members]:
            public = isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name[0] != "_"
            if public and not ast.get_docstring(node):
                missing.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {node.name}")
    assert not missing, "\n".join(missing)


NAME_HOME = LAKEHOUSE_DIR / "tables.py"


def spelled_table_names(source: str, where: str) -> list[str]:
    """`where:line: "bronze.x"` for each table name written out in code (a string or the
    start of an f-string), docstrings aside."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef)
        and ast.get_docstring(node) is not None
    }
    found = []
    for node in ast.walk(tree):  # An f-string's literal parts are constants too.
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and LOGICAL_NAME.match(node.value.split("{")[0] + "x")
        ):
            found.append(f"{where}:{node.lineno}: {node.value!r}")
    return found


def test_the_check_finds_a_table_name_in_a_string_and_an_f_string():
    source = '"""Reads bronze.posts."""\nA = "silver.posts"\nB = f"gold.{x}"\nC = "gold"\n'
    assert spelled_table_names(source, "x.py") == [
        "x.py:2: 'silver.posts'",
        "x.py:3: 'gold.'",
    ]


def test_each_table_name_is_spelled_in_one_module():
    """lakehouse/tables.py names every table; the graph, the steps, the summary and the
    report import those names, so a table renamed there is renamed everywhere."""
    found = []
    for folder, _ in PACKAGES.values():
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            if path != NAME_HOME:
                where = str(path.relative_to(REPO_ROOT))
                found += spelled_table_names(path.read_text(), where)
    assert not found, "\n".join(found)


# The tables the formatter leaves alone (docs/development.md), and how many in each file.
FORMATTER_EXCEPTIONS = {
    "env/dump_generator/sample.py": 1,
    "notebooks/lakehouse/schemas.py": 8,
    "notebooks/lakehouse/silver/posts.py": 1,
}
SOURCE_DIRS = ("benchmarks", "dags", "env", "kind", "notebooks", "tests")


def formatter_switches(path) -> int:
    """How many comments in the file switch the formatter off."""
    with path.open("rb") as source:
        comments = [
            token.string
            for token in tokenize.tokenize(source.readline)
            if token.type == tokenize.COMMENT
        ]
    return sum(comment in ("# fmt: skip", "# fmt: off") for comment in comments)


def test_the_formatter_is_switched_off_only_for_the_tables_the_readme_names():
    found = {}
    for directory in SOURCE_DIRS:
        for path in sorted((REPO_ROOT / directory).rglob("*.py")):
            if switches := formatter_switches(path):
                found[str(path.relative_to(REPO_ROOT))] = switches
    assert found == FORMATTER_EXCEPTIONS


def parameter_counts(source: str) -> list[tuple[str, int]]:
    """(name, parameters) of each function, `self` and `cls` aside."""
    counts = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            given = node.args
            names = [a.arg for a in (*given.posonlyargs, *given.args, *given.kwonlyargs)]
            counts.append((node.name, len([n for n in names if n not in ("self", "cls")])))
    return counts


def test_no_function_of_lakehouse_takes_more_than_five_parameters():
    """A step passes one context and narrow records (lakehouse.steps.RunContext,
    bronze.xml_to_bronze.DumpToLoad, delta_merge.Slice), not a fan of loose values."""
    two = "def f(self, a, b, *, c=1): pass\ndef f(): pass"
    assert parameter_counts(two) == [("f", 3), ("f", 0)]
    found = [
        f"{path.relative_to(REPO_ROOT)}: {name} takes {count}"
        for path in sorted(LAKEHOUSE_DIR.rglob("*.py"))
        for name, count in parameter_counts(path.read_text())
        if count > 5
    ]
    assert not found, "\n".join(found)
