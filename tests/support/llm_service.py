"""A real LLM service for the llm canister's outcalls in tests: `icchat serve`'s server on a tiny
seeded bundle (64-token context), in a thread of the test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from icchat.model.export import export_bundle
from icchat.serve.model import ServedModel
from icchat.serve.server import ApiServer

MODEL_ID = "tiny-llm"  # the name the service answers as


@contextmanager
def tiny_service(folder: Path) -> Iterator[str]:
    """The service, on a bundle exported into `folder`; its base URL (no /v1) while it runs."""
    bundle = export_bundle(folder / MODEL_ID, config="tiny", seed=0, variants=["f32"], n_ctx=64, log=lambda _: None)
    with ApiServer(("127.0.0.1", 0), ServedModel(bundle, MODEL_ID, "f32"), quiet=True) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server.base_url.rstrip("/").removesuffix("/v1")
        server.shutdown()
        thread.join()
