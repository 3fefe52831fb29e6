"""icchat serve on a tiny seeded bundle (2 layers of 128, random weights) with a 64-token context,
so a prompt over the context is a short one; served in this process on a free port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import OpenAI
from serve_tiny import MODEL_ID, N_CTX

from icchat.model.export import export_bundle
from icchat.serve.model import ServedModel
from icchat.serve.server import ApiServer


@pytest.fixture(scope="session")
def serve_bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("serve") / MODEL_ID
    return export_bundle(out, config="tiny", seed=0, variants=["f32"], n_ctx=N_CTX, log=lambda _: None)


@pytest.fixture(scope="session")
def served(serve_bundle) -> ServedModel:
    return ServedModel(serve_bundle, MODEL_ID, "f32")


@pytest.fixture(scope="module")
def server(served) -> Iterator[ApiServer]:
    """A fresh server (and Idempotency-Key store) per test module."""
    with ApiServer(("127.0.0.1", 0), served, quiet=True) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server
        server.shutdown()
        thread.join()


@pytest.fixture
def client(server) -> OpenAI:
    """The official client; no retries, so a refusal is seen as the server sent it."""
    return OpenAI(base_url=server.base_url, api_key="unused", max_retries=0, timeout=120)
