"""A local HTTP server laid out like archive.org, over the real dumps in place:
/download/<item>/<site>.7z, /download/<item>/<item>_files.xml, and the search API
(/advancedsearch.php) that lists the release items."""

import functools
import json
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

_FILE_ENTRY = re.compile(r'\s*<file name="([^"]+)".*?</file>', re.DOTALL)


class _MirrorHandler(SimpleHTTPRequestHandler):
    """Static files, plus archive.org's search answer for `identifier:<prefix>*`."""

    requested: list[str]

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.requested.append(self.path)
        url = urlparse(self.path)
        if url.path != "/advancedsearch.php":
            return super().do_GET()
        query = parse_qs(url.query).get("q", [""])[0]
        prefix = query.removeprefix("identifier:").rstrip("*")
        items = sorted(p.name for p in (Path(self.directory) / "download").iterdir())
        docs = [{"identifier": item} for item in items if item.startswith(prefix)]
        body = json.dumps({"response": {"docs": docs}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve_archive_mirror(
    dumps_dir: Path, root: Path, item: str = "stackexchange", releases: dict | None = None
):
    """Link the dumps (no copies) under `root/download/<item>/` and serve `root`.

    `releases` maps more items to the archive names each holds (e.g.
    {"stackexchange_20250630": ["french.meta.stackexchange.com.7z"]}); each gets its own
    `<item>_files.xml`. The server's `requested` lists every path asked for.
    """
    listing = (dumps_dir / "stackexchange_files.xml").read_text()
    items = {item: None, **(releases or {})}
    for name, archives in items.items():
        folder = root / "download" / name
        folder.mkdir(parents=True, exist_ok=True)
        for path in dumps_dir.glob("*.7z"):
            if archives is None or path.name in archives:
                (folder / path.name).symlink_to(path)
        kept = "".join(
            entry[0]
            for entry in _FILE_ENTRY.finditer(listing)
            if archives is None or entry[1] in archives
        )
        (folder / f"{name}_files.xml").write_text(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<files>{kept}\n</files>\n'
        )
    requested: list[str] = []
    handler = functools.partial(
        type("Handler", (_MirrorHandler,), {"requested": requested}), directory=str(root)
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.requested = requested
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/download"
