"""Code that Databricks serverless and standard (shared) clusters would refuse is kept
out of the notebooks and their package, and the package imports from beside the
notebooks alone, as workspace files do."""

import ast
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PACKAGE = NOTEBOOKS / "lakehouse"

# Spark Connect (serverless, standard access mode) has no JVM handle, no RDDs, no
# SparkContext, no caching API, and refuses most session configuration.
DENIED_ATTRIBUTES = {
    "sparkContext": "the SparkContext",
    "rdd": "the RDD API",
    "_jvm": "the JVM gateway",
    "_jsc": "the Java SparkContext",
    "_jsparkSession": "the Java session",
    "builder": "building a session (only env/ builds one)",
    "cache": "the caching API",
    "persist": "the caching API",
    "createGlobalTempView": "global temp views",
    "createOrReplaceGlobalTempView": "global temp views",
}
DENIED_TEXT = {"dbfs:/": "DBFS paths", "CACHE TABLE": "the caching API"}
# The DeltaTable builder needs a server plugin that Spark Connect lacks here; use SQL.
DENIED_MODULES = {"delta.tables": "the DeltaTable API"}


def denied_calls(source: str, where: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in DENIED_ATTRIBUTES:
            found.append(f"{where}:{node.lineno}: .{node.attr} ({DENIED_ATTRIBUTES[node.attr]})")
        if isinstance(node, ast.Attribute) and node.attr == "set":
            target = node.value
            if isinstance(target, ast.Attribute) and target.attr == "conf":
                found.append(f"{where}:{node.lineno}: conf.set (serverless refuses most)")
        modules = [node.module] if isinstance(node, ast.ImportFrom) else []
        modules += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        found += [
            f"{where}:{node.lineno}: import {module} ({DENIED_MODULES[module]})"
            for module in modules
            if module in DENIED_MODULES
        ]
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += [
                f"{where}:{node.lineno}: {text!r} ({reason})"
                for text, reason in DENIED_TEXT.items()
                if text.lower() in node.value.lower()
            ]
    return found


def notebook_sources() -> dict[str, str]:
    sources = {}
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        sources[path.name] = "\n".join(line for line in code if not line.startswith(("%", "!")))
    return sources


def package_sources() -> dict[str, str]:
    return {str(p.relative_to(NOTEBOOKS)): p.read_text() for p in sorted(PACKAGE.rglob("*.py"))}


def test_the_scan_finds_what_it_looks_for():
    sample = textwrap.dedent(
        """
        spark.sparkContext.setLogLevel("ERROR")
        df.rdd.map(len)
        SparkSession.builder.getOrCreate()
        df.cache()
        spark.conf.set("spark.sql.shuffle.partitions", "4")
        spark.read.text("dbfs:/tmp/x")
        from delta.tables import DeltaTable
        import delta.tables
        """
    )
    assert len(denied_calls(sample, "sample")) == 8


@pytest.mark.parametrize(
    ("where", "source"), [*notebook_sources().items(), *package_sources().items()]
)
def test_no_call_that_databricks_serverless_refuses(where, source):
    assert denied_calls(source, where) == []


def test_the_package_imports_from_beside_the_notebooks_alone(tmp_path):
    """A copy of notebooks/, as the bundle uploads it, with the installed package and the
    packages that run off Databricks made unimportable: every module still imports."""
    workspace = tmp_path / "files" / "notebooks"
    shutil.copytree(NOTEBOOKS, workspace, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    script = textwrap.dedent(
        """
        import importlib, importlib.abc, pkgutil, sys

        OFF_DATABRICKS = ("worker", "laptop", "dump_generator", "airflow", "papermill")

        class OnlyOnLaptops(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in OFF_DATABRICKS:
                    raise ImportError(f"{name} is not on Databricks")
                return None

        sys.meta_path.insert(0, OnlyOnLaptops())
        import lakehouse
        assert lakehouse.__file__.startswith(sys.argv[1]), lakehouse.__file__
        for module in pkgutil.walk_packages(lakehouse.__path__, "lakehouse."):
            importlib.import_module(module.name)
        print("imported", len(sys.modules))
        """
    )
    # `python -c` puts the working directory first on sys.path, as Databricks puts the
    # notebook's folder.
    result = subprocess.run(
        [sys.executable, "-c", script, str(workspace)],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_notebooks_import_the_package_by_name_only():
    for name, source in notebook_sources().items():
        imports = [
            node
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Import | ast.ImportFrom)
        ]
        modules = {
            alias.name if isinstance(node, ast.Import) else node.module
            for node in imports
            for alias in node.names
        }
        assert "lakehouse.runtime" in modules, name
        assert {m.split(".")[0] for m in modules} <= {"lakehouse", "pandas", "pyspark"}, name
        assert "sys.path" not in source and "%pip" not in source, name
