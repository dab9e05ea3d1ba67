"""Where the local environment keeps its files; all of them are git-ignored."""

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
JAR_MANIFEST = REPO_ROOT / "env" / "jars.pom.xml"
JAR_CACHE = REPO_ROOT / ".cache" / "jars"
STATE_DIR = REPO_ROOT / ".local"
LAKE_DIR = REPO_ROOT / "lake"
# The tests point runs and scratch elsewhere, so that they leave nothing in the checkout.
RUNS_DIR = Path(os.environ.get("LAKE_RUNS_DIR", REPO_ROOT / "runs"))
SAMPLE_DIR = REPO_ROOT / "data" / "sample"
WORK_DIR = Path(os.environ.get("LAKE_WORK_DIR", REPO_ROOT / "data" / "work"))
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
S3_STATE_DIR = STATE_DIR / "s3"
SPARK_STATE_DIR = STATE_DIR / "spark-connect"
AIRFLOW_HOME = STATE_DIR / "airflow"
LAB_STATE_DIR = STATE_DIR / "lab"
LOCK_FILE = REPO_ROOT / "requirements.lock"
# The Databricks side: the runtime's libraries, the job's on top, their lock, their venv.
DATABRICKS_RUNTIME_FILE = REPO_ROOT / "env" / "databricks_runtime.txt"
SERVERLESS_ENVIRONMENT_FILE = REPO_ROOT / "env" / "serverless_environment.txt"
JOB_LIBRARIES_FILE = REPO_ROOT / "requirements.databricks.in"
DATABRICKS_LOCK_FILE = REPO_ROOT / "requirements.databricks.lock"
DATABRICKS_PYTHON = REPO_ROOT / ".venv-databricks" / "bin" / "python"
BUNDLE_FILE = REPO_ROOT / "databricks.yml"
BUNDLE_JOBS_FILE = REPO_ROOT / "resources" / "stackexchange.jobs.yml"
