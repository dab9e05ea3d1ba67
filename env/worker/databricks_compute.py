"""Where a Databricks job's notebooks run, and with which libraries: serverless or a job
cluster. The bundle's jobs (bundle_job) and Airflow's workflow (dags/orchestration) both
take their compute from here.

Serverless is the default: nothing to size or to hold a policy for, and its environment
version 5 is the line of Databricks Runtime 18 LTS that the tests run (Spark 4.1,
Python 3.12, the same libraries: env/serverless_environment.txt). A notebook task on
serverless takes its libraries from the job's `environments`, named by the task's
`environment_key`; task `libraries` are for clusters. Jobs API, "Create a new job"
(https://docs.databricks.com/api/workspace/jobs/create), `environments`: "For serverless
notebook tasks, if the environment_key is not specified, the notebook environment will be
used if present. If a jobs environment is specified, it will override the notebook
environment."
"""

import re
from pathlib import Path
from typing import Literal

type Compute = Literal["serverless", "cluster"]

ENVIRONMENT_KEY = "lakehouse"
JOB_CLUSTER_KEY = "lakehouse"
# Serverless environment version 5: Python 3.12.3, Databricks Connect 18
# (https://docs.databricks.com/aws/release-notes/serverless/environment-version).
SERVERLESS_ENVIRONMENT_VERSION = "5"


def normalized_name(name: str) -> str:
    """A distribution's name as PEP 503 compares them: `jupyter_client` is `jupyter-client`."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def pinned_versions(requirements_file: Path) -> dict[str, str]:
    """`name==version` lines of a requirements file or lock, by normalized name."""
    versions = {}
    for line in requirements_file.read_text().splitlines():
        name, separator, version = line.partition("==")
        if separator and not line.startswith("#"):
            versions[normalized_name(name)] = version.strip()
    return versions


def job_packages(job_libraries_file: Path) -> list[str]:
    """The libraries each task installs on top of the runtime's, as pip requirements: the
    tests' Databricks side runs exactly these (requirements.databricks.lock)."""
    return [f"{name}=={version}" for name, version in pinned_versions(job_libraries_file).items()]


def task_libraries(packages: list[str]) -> list[dict]:
    """`packages` as a cluster task's `libraries`."""
    return [{"pypi": {"package": package}} for package in packages]


def serverless_environment(packages: list[str]) -> dict:
    """The job's one serverless environment: version 5 with `packages` installed."""
    return {
        "environment_key": ENVIRONMENT_KEY,
        "spec": {"environment_version": SERVERLESS_ENVIRONMENT_VERSION, "dependencies": packages},
    }


def job_cluster(spark_version: str, policy_id: str, workers: int | str) -> dict:
    """The job's one cluster, sized explicitly: a policy that leaves the size open would
    otherwise get a driver alone (`num_workers` 0) without the single-node settings."""
    return {
        "job_cluster_key": JOB_CLUSTER_KEY,
        "new_cluster": {
            "spark_version": spark_version,
            "policy_id": policy_id,
            "apply_policy_default_values": True,
            "num_workers": workers,
            # Standard (shared) access mode: Unity Catalog, and the same API limits as
            # serverless, which the deny-list test holds the code to.
            "data_security_mode": "USER_ISOLATION",
        },
    }


def task_compute(compute: Compute, packages: list[str]) -> dict:
    """What a notebook task of the job carries to run on `compute` with `packages`."""
    if compute == "serverless":
        return {"environment_key": ENVIRONMENT_KEY}
    return {"job_cluster_key": JOB_CLUSTER_KEY, "libraries": task_libraries(packages)}
