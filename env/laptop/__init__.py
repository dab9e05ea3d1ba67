"""The laptop only: the Spark Connect and standalone servers, local Airflow, JupyterLab
and its kernel, the runners, the Databricks imitation and the `lake` CLI."""
