"""The packages' shape: imports point one way, from what runs only on a laptop to what
also runs on Databricks (dags -> localenv -> ingest -> lakehouse, never back, not even
inside a function), and the deployed package documents every public name."""

import ast

import pytest

from localenv.paths import REPO_ROOT

# Each package, and the project's packages it may import (besides itself).
MAY_IMPORT = {
    "lakehouse": set(),
    "ingest": {"lakehouse"},
    "localenv": {"lakehouse", "ingest"},
    "orchestration": {"lakehouse", "ingest", "localenv"},
}
PACKAGE_DIRS = {
    "lakehouse": REPO_ROOT / "notebooks" / "lakehouse",
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
