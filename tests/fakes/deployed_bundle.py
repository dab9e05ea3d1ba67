"""The bundle's jobs as `databricks bundle deploy` leaves them in a workspace, for the
fake Jobs API: variables resolved, notebook paths in the workspace's files."""

import json

from worker.bundle_job import COMPUTE_JOBS, jobs_resource
from worker.databricks_compute import pinned_versions
from worker.paths import JOB_LIBRARIES_FILE

NOTEBOOK_DIR = (
    "/Workspace/Users/ci@example.com/.bundle/stackexchange_workbench/prod/files/notebooks"
)
VARIABLES = {
    "site": "bicycles.stackexchange.com",
    "catalog": "stackexchange",
    "raw_root": "s3://landing/raw",
    "spark_version": "18.x-scala2.13",
    "cluster_policy_id": "policy",
    "cluster_workers": "2",
}
# What the notebooks import beyond the runtime: the job's libraries (distribution names),
# each with the module named in the fake's ModuleNotFoundError.
JOB_IMPORTS = {name: name.replace("-", "_") for name in pinned_versions(JOB_LIBRARIES_FILE)}


def deployed(job: dict, notebook_dir: str = NOTEBOOK_DIR) -> dict:
    text = json.dumps(job)
    for name, value in VARIABLES.items():
        text = text.replace(f"${{var.{name}}}", value)
    settings = json.loads(text)
    for task in settings["tasks"]:
        notebook = task["notebook_task"]["notebook_path"].rsplit("/", 1)[-1]
        task["notebook_task"]["notebook_path"] = f"{notebook_dir}/{notebook.removesuffix('.ipynb')}"
    for cluster in settings.get("job_clusters", []):
        cluster["new_cluster"]["num_workers"] = int(cluster["new_cluster"]["num_workers"])
    return settings


def bundle_jobs(notebook_dir: str = NOTEBOOK_DIR) -> dict[str, dict]:
    """The medallion job on each compute, by compute."""
    jobs = jobs_resource(JOB_LIBRARIES_FILE)["resources"]["jobs"]
    return {compute: deployed(jobs[name], notebook_dir) for compute, name in COMPUTE_JOBS.items()}


def notebook_paths(notebook_dir: str = NOTEBOOK_DIR) -> set[str]:
    return {
        t["notebook_task"]["notebook_path"] for t in bundle_jobs(notebook_dir)["cluster"]["tasks"]
    }
