"""Fixtures the integration modules share."""

import pytest
from pipeline_helpers import PIPED_SITE, ingest_sample, run_pipeline


@pytest.fixture(scope="session")
def piped_site(lake, settings, s3, tmp_path_factory):
    """A generated dump taken through the whole pipeline once, for every module that
    reads its tables (a pipeline run costs about a minute)."""
    ingested = ingest_sample(settings, tmp_path_factory.mktemp("piped"), PIPED_SITE)
    run_pipeline(lake, PIPED_SITE)
    return ingested
