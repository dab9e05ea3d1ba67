"""What `make s3-start` does when the port is already served: LocalStack and other S3
servers are used as they are; anything else is named."""

import http.server
import json
import threading

import pytest

from lakehouse.settings import LakeSettings
from worker.s3_server import server_for


def serve(handler_body):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            status, body = handler_body(self.path)
            self.send_response(status)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def server_on(tmp_path):
    started = []

    def make(handler_body):
        http_server = serve(handler_body)
        started.append(http_server)
        settings = LakeSettings(s3_endpoint=f"http://127.0.0.1:{http_server.server_address[1]}")
        return server_for(settings, tmp_path / "data", tmp_path / "state")

    yield make
    for http_server in started:
        http_server.shutdown()


def test_localstack_is_used_as_it_is(server_on):
    health = json.dumps({"services": {"s3": "running"}, "edition": "community"}).encode()
    s3 = server_on(lambda path: (200, health) if path == "/_localstack/health" else (200, b""))
    assert s3.start().startswith("LocalStack found")
    assert s3.running_pid() is None  # nothing of ours was started


def test_another_s3_server_is_used_as_it_is(server_on):
    s3 = server_on(lambda path: (403, b"<Error><Code>AccessDenied</Code></Error>"))
    assert "already answers" in s3.start()


def test_something_else_on_the_port_is_named(server_on):
    s3 = server_on(lambda path: (200, b"<html>hello</html>"))
    with pytest.raises(RuntimeError, match="is taken by something that is not"):
        s3.start()


def test_a_failing_s3_server_is_named_not_used(server_on):
    # What a leftover S3Proxy whose data folder was deleted answers to a bucket list.
    s3 = server_on(lambda path: (500, b"<Error><Code>InternalError</Code></Error>"))
    with pytest.raises(RuntimeError, match=r"fails \(HTTP 500 on a bucket list\).*Stop it"):
        s3.start()
