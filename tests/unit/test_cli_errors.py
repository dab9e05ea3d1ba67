"""The one line a user sees for an error: delta-rs chains its causes over many lines,
and the line that says what happened is the last one."""

import pytest
from deltalake import DeltaTable

from localenv.cli import one_line
from localenv.ports import free_port

pytestmark = pytest.mark.unit


def test_a_delta_rs_error_keeps_its_root_cause():
    nothing_listens = f"http://127.0.0.1:{free_port()}"
    options = {
        "AWS_ENDPOINT_URL": nothing_listens,
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
        "AWS_MAX_RETRIES": "0",
    }
    with pytest.raises(OSError) as raised:
        DeltaTable("s3://lake/gold/tags", storage_options=options)
    assert "\n" in str(raised.value), "delta-rs no longer chains causes over lines"
    line = one_line(raised.value)
    assert "\n" not in line and "\x1b" not in line
    assert line.startswith("Kernel error -> Generic S3 error: ")
    assert line.endswith("Connection refused (os error 111)")


def test_a_plain_message_is_its_first_line():
    assert one_line(ValueError("bad row 3\ndetails")) == "bad row 3"
    assert one_line(ValueError("")) == "ValueError('')"
