"""Run one pipeline notebook with papermill, against the lake of connection `aws_conn`."""

from pathlib import Path

from airflow.providers.papermill.operators.papermill import PapermillOperator

from lakehouse.settings import environment_set
from orchestration.connections import AWS_CONN_ID, lake_settings
from orchestration.runs import site_run_dir
from orchestration.table_events import emit_table_events, local_table_extras, tables_alias
from worker.kernel_specs import PIPELINE_KERNEL, with_pipeline_kernel


class LakeNotebookOperator(PapermillOperator):
    """A PapermillOperator that names its notebook from the pipeline graph, gives the kernel
    the lake's settings, and keeps the executed copy under `<runs_dir>/<run_id>/<site>/`.
    Its outlet is an alias that resolves to the tables of `writes` it changed
    (orchestration.table_events).

    `parameters` (templated, or a mapped argument) holds the run's values:
    site, dump_id and run_id.
    """

    def __init__(
        self,
        *,
        notebook: str,
        writes: tuple[str, ...],
        notebooks_dir: Path,
        runs_dir: Path,
        **kwargs,
    ) -> None:
        super().__init__(
            input_nb=str(notebooks_dir / f"{notebook}.ipynb"),
            kernel_name=PIPELINE_KERNEL,
            outlets=[tables_alias(notebook)],
            **kwargs,
        )
        self.notebook = notebook
        self.writes = writes
        self.runs_dir = runs_dir

    def execute(self, context):
        from worker.lake_summary import delta_rs_versions

        run = self.parameters
        output = site_run_dir(self.runs_dir, run) / f"{self.notebook}.ipynb"
        output.parent.mkdir(parents=True, exist_ok=True)
        self.output_nb = str(output)
        settings = lake_settings(AWS_CONN_ID)
        before = delta_rs_versions(settings, self.writes)
        self.log.info("Running notebook %s; its executed copy goes to %s", self.input_nb, output)
        try:
            # The kernel, a child of this process, inherits the lake's settings.
            with environment_set({**settings.environment(), **with_pipeline_kernel()}):
                super().execute(context)
        finally:
            self.log.info("Executed notebook kept at %s", output)
        after = delta_rs_versions(settings, self.writes)
        extras = local_table_extras(settings, run["site"], before, after)
        alias = context["outlet_events"][tables_alias(self.notebook)]
        emit_table_events(alias, self.notebook, run["site"], extras, self.writes, self.log)
        return str(output)
