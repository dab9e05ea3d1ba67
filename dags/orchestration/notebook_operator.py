"""Run one pipeline notebook with papermill, against the lake of connection `aws_conn`."""

from pathlib import Path

from airflow.providers.papermill.operators.papermill import PapermillOperator

from lakehouse.settings import environment_set
from orchestration.connections import AWS_CONN_ID, lake_settings


class LakeNotebookOperator(PapermillOperator):
    """A PapermillOperator that names its notebook from the pipeline graph, gives the kernel
    the lake's settings, and keeps the executed copy under `<runs_dir>/<run_id>/<site>/`.

    `parameters` (templated, or a mapped argument) holds the run's values:
    site, dump_id and run_id.
    """

    def __init__(self, *, notebook: str, notebooks_dir: Path, runs_dir: Path, **kwargs) -> None:
        super().__init__(
            input_nb=str(notebooks_dir / f"{notebook}.ipynb"), kernel_name="python3", **kwargs
        )
        self.notebook = notebook
        self.runs_dir = runs_dir

    def execute(self, context):
        run = self.parameters
        output = Path(self.runs_dir) / run["run_id"] / run["site"] / f"{self.notebook}.ipynb"
        output.parent.mkdir(parents=True, exist_ok=True)
        self.output_nb = str(output)
        self.log.info("Running notebook %s; its executed copy goes to %s", self.input_nb, output)
        try:
            # The kernel, a child of this process, inherits the lake's settings.
            with environment_set(lake_settings(AWS_CONN_ID).environment()):
                super().execute(context)
        finally:
            self.log.info("Executed notebook kept at %s", output)
        return str(output)
