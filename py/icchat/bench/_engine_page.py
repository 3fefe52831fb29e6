"""The icchat engine (web/engine.mjs) in Chromium without the rest of the page: a cross-origin
isolated static origin serving web/, the four engine builds and one directory of weight files, and
a page that runs one job per fresh Web Worker (the engine blocks its thread while it computes,
and its helpers sleep in Atomics, which a page's main thread may not). Used by `icchat bench
engine` and tests/engine/test_engine_threads.py.

A job: {wasm: "/icchat-engine[-threads][-relaxed].wasm" (engine_wasm_path), weights: "/weights/<file>", threads,
prompt: [ids], steps, sampling: [temperature, top_k, top_p, seed] | null (greedy), logits: bool,
kernel?: "relaxed" | "simd128" (q8: instead of the engine's own choice)}
-> {threads, kernel, load_ms, prefill_ms, step_ms: [...], tokens: [...], first?: [u32], last?: [u32]}
(`first`/`last`: the raw bits of the logits after the prompt and after the last step).
"""

from __future__ import annotations

import http.server
import threading
from pathlib import Path
from typing import Any

from icchat.paths import REPO

PAGE = b"""<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module">
window.run = (job) => new Promise((resolve) => {
  const w = new Worker("/run-job.mjs", { type: "module" });
  w.onmessage = ({ data }) => { w.terminate(); resolve(data); };
  w.onerror = (e) => { w.terminate(); resolve({ error: e.message }); };
  w.postMessage(job);
});
window.isolated = self.crossOriginIsolated;
</script>"""

JOB = b"""import { Engine } from "/web/engine.mjs";
const bits = (e) => Array.from(new Uint32Array(e.logits().buffer));
self.onmessage = async ({ data: job }) => {
  try {
    const bytes = new Uint8Array(await (await fetch(job.weights)).arrayBuffer());
    let t0 = performance.now();
    const e = await Engine.create(job.wasm, bytes, { threads: job.threads });
    if (job.kernel) e.useQ8Kernel(job.kernel);
    const out = { threads: e.threads, kernel: e.kernel, load_ms: performance.now() - t0, step_ms: [] };
    const [temperature, topK, topP, seed] = job.sampling ?? [0, 0, 1, 0];
    t0 = performance.now();
    e.forward(job.prompt, 0);
    if (job.logits) out.first = bits(e);
    let pos = job.prompt.length, t = e.next(temperature, topK, topP, String(seed), pos);
    out.prefill_ms = performance.now() - t0;
    out.tokens = [t];
    for (let i = 0; i < job.steps; i++) {
      const s = performance.now();
      e.forward([t], pos++);
      if (job.logits && i === job.steps - 1) out.last = bits(e);
      t = e.next(temperature, topK, topP, String(seed), pos);
      out.step_ms.push(performance.now() - s);
      out.tokens.push(t);
    }
    e.close();
    self.postMessage(out);
  } catch (error) { self.postMessage({ error: String(error?.stack ?? error) }); }
};"""

def engine_wasm_path(threads: int, relaxed: bool = True) -> str:
    """The origin's path of the engine module the page would pick for `threads` (Chromium has relaxed SIMD)."""
    from icchat.build.engine import engine_file_name

    return "/" + engine_file_name(threads=threads > 1, relaxed=relaxed)


class EngineOrigin:
    """`with EngineOrigin(weights_dir) as origin:` origin.url, origin.run(page, job)."""

    def __init__(self, weights_dir: Path) -> None:
        from icchat.build.engine import build_engine_modules

        files = {"/": (PAGE, "text/html"), "/run-job.mjs": (JOB, "text/javascript"),
                 **{f"/{path.name}": (path.read_bytes(), "application/wasm") for path in build_engine_modules().values()}}
        mounts = {"/web/": REPO / "web", "/weights/": Path(weights_dir)}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                body, kind = files.get(path, (None, ""))
                for prefix, root in mounts.items():
                    if body is None and path.startswith(prefix) and (root / path[len(prefix):]).is_file():
                        body = (root / path[len(prefix):]).read_bytes()
                        kind = "text/javascript" if path.endswith((".js", ".mjs")) else "application/octet-stream"
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                for name, value in (("Content-Type", kind), ("Content-Length", str(len(body))),
                                    ("Cross-Origin-Opener-Policy", "same-origin"),
                                    ("Cross-Origin-Embedder-Policy", "require-corp"),
                                    ("Cross-Origin-Resource-Policy", "same-origin"), ("Cache-Control", "no-store")):
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def __enter__(self) -> EngineOrigin:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def open(self, browser: Any) -> Any:
        page = browser.new_page()
        page.goto(self.url)
        page.wait_for_function("window.isolated !== undefined")
        if not page.evaluate("window.isolated"):
            raise RuntimeError("the engine page is not cross-origin isolated")
        return page

    @staticmethod
    def run(page: Any, job: dict[str, Any]) -> dict[str, Any]:
        result = page.evaluate("(job) => window.run(job)", job)
        if "error" in result:
            raise RuntimeError(f"icchat engine job failed: {result['error']}")
        return result
