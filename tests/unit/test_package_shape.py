"""The packages' shape: imports point one way, from what runs only on a laptop to what
also runs on Databricks (dags -> localenv -> ingest -> lakehouse, never back, not even
inside a function; the dump generators sit below ingest, which packs the sample), and the
deployed package documents every public name."""

import ast
import tokenize

import pytest

from lakehouse.table_locations import LOGICAL_NAME
from localenv.paths import REPO_ROOT

# Each package, and the project's packages it may import (besides itself).
MAY_IMPORT = {
    "lakehouse": set(),
    "dump_generator": {"lakehouse"},
    "ingest": {"lakehouse", "dump_generator"},
    "localenv": {"lakehouse", "dump_generator", "ingest"},
    "orchestration": {"lakehouse", "dump_generator", "ingest", "localenv"},
}
PACKAGE_DIRS = {
    "lakehouse": REPO_ROOT / "notebooks" / "lakehouse",
    "dump_generator": REPO_ROOT / "env" / "dump_generator",
    "ingest": REPO_ROOT / "env" / "ingest",
    "localenv": REPO_ROOT / "env" / "localenv",
    "orchestration": REPO_ROOT / "dags",
}


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
    source = "import os\n\ndef f():\n    from localenv.paths import REPO_ROOT\n"
    assert wrong_way_imports("lakehouse", source, "x.py") == [
        "x.py:4: lakehouse imports localenv.paths"
    ]
    assert wrong_way_imports("localenv", source, "x.py") == []


@pytest.mark.parametrize("package", PACKAGE_DIRS)
def test_no_import_points_the_wrong_way(package):
    found = []
    for path in sorted(PACKAGE_DIRS[package].rglob("*.py")):
        where = str(path.relative_to(REPO_ROOT))
        found += wrong_way_imports(package, path.read_text(), where)
    assert not found, "\n".join(found)


def test_every_public_function_and_class_of_lakehouse_says_what_it_is():
    """The deployed package is what a newcomer reads first: each public name of it carries
    a one-line docstring."""
    missing = []
    for path in sorted(PACKAGE_DIRS["lakehouse"].rglob("*.py")):
        tree = ast.parse(path.read_text())
        classes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
        members = [node for c in classes for node in c.body]
        for node in [*tree.body, *members]:
            public = isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name[0] != "_"
            if public and not ast.get_docstring(node):
                missing.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {node.name}")
    assert not missing, "\n".join(missing)


NAME_HOME = PACKAGE_DIRS["lakehouse"] / "tables.py"


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
    for directory in PACKAGE_DIRS.values():
        for path in sorted(directory.rglob("*.py")):
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
