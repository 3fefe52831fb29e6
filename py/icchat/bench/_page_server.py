"""A plain static file server for the peers of `icchat bench page` (and the weight
streaming baseline): cross-origin isolated (COOP/COEP/CORP, so threads and
measureUserAgentSpecificMemory work), `.mjs` as JavaScript and `.wasm` as application/wasm.

Everything the peers load comes from this one origin: the bundle under /model/, onnxruntime-web
1.30 under /ort/, transformers.js under /tjs/ and the ORT build it ships under /tjs-ort/, the
bench driver under /bench/. Nothing is fetched from anywhere else.
"""

from __future__ import annotations

import http.server
import threading
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from icchat.paths import REPO

NODE_MODULES = REPO / "node_modules"
TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
         ".json": "application/json", ".onnx": "application/octet-stream", ".html": "text/html",
         ".txt": "text/plain"}
INDEX = b"""<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>icchat bench</title>
<script type="module">import * as d from "/bench/_page_decode.mjs"; window.bench = d; window.benchReady = true;</script>
"""


def mounts(bundle: Path) -> dict[str, Path]:
    tjs = NODE_MODULES / "@huggingface" / "transformers"
    return {"/model/": Path(bundle), "/ort/": NODE_MODULES / "onnxruntime-web" / "dist",
            "/tjs/": tjs / "dist", "/tjs-ort/": tjs / "node_modules" / "onnxruntime-web" / "dist",
            "/bench/": Path(__file__).parent}


class StaticServer:
    """`with StaticServer(bundle) as s: s.url` — serves on 127.0.0.1, a free port, in a thread."""

    def __init__(self, bundle: Path, cache_seconds: int = 3600) -> None:
        table = mounts(bundle)

        class Handler(http.server.SimpleHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def translate_path(self, path: str) -> str:
                path = unquote(urlsplit(path).path)
                for prefix, folder in table.items():
                    if path.startswith(prefix):
                        target = (folder / path[len(prefix):]).resolve()
                        if target.is_relative_to(folder.resolve()):
                            return str(target)
                return str(Path("/nonexistent"))

            def guess_type(self, path: Any) -> str:
                return TYPES.get(Path(str(path)).suffix, "application/octet-stream")

            def do_GET(self) -> None:
                if urlsplit(self.path).path in ("/", "/index.html"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(INDEX)))
                    self.end_headers()
                    self.wfile.write(INDEX)
                    return
                super().do_GET()

            def end_headers(self) -> None:
                self.send_header("Cross-Origin-Opener-Policy", "same-origin")
                self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
                self.send_header("Cross-Origin-Resource-Policy", "same-origin")
                self.send_header("Cache-Control", f"max-age={cache_seconds}")
                super().end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> StaticServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
