"""A local HTTP server laid out like archive.org's downloads, over the real dumps in
place: /download/<item>/<site>.7z and /download/<item>/<item>_files.xml."""

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve_archive_mirror(dumps_dir: Path, root: Path, item: str = "stackexchange"):
    """Link the dumps (no copies) under `root/download/<item>/` and serve `root`."""
    folder = root / "download" / item
    folder.mkdir(parents=True, exist_ok=True)
    for path in dumps_dir.glob("*"):
        if path.suffix in (".7z", ".xml"):
            (folder / path.name).symlink_to(path)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/download"
