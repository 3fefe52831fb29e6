"""The local stack's LLM service (icchat.stack.serve_process): `icchat serve` as a real child
process on a free port, answering chat completions, found again, and stopped."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from icchat.model.export import export_bundle
from icchat.stack import serve_process
from icchat.stack.background import alive


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return export_bundle(tmp_path_factory.mktemp("stack") / "tiny-stack", config="tiny", seed=0, log=lambda _: None)


def test_the_service_starts_on_a_free_port_answers_is_found_again_and_stops(tmp_path, bundle):
    state = tmp_path / "state"
    process = serve_process.start(state, bundle)
    try:
        assert process.model == "tiny-stack" and serve_process.running(state) == process
        assert serve_process.start(state, bundle) == process  # idempotent: the same child
        body = json.dumps({"model": "tiny-stack", "messages": [{"role": "user", "content": "Hi"}],
                           "max_tokens": 4, "seed": 1}).encode()
        request = urllib.request.Request(process.completions_url, body, {"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            answer = json.loads(response.read())
        assert answer["model"] == "tiny-stack" and answer["choices"][0]["message"]["role"] == "assistant"
    finally:
        stopped = serve_process.stop(state)
    assert stopped == process and not alive(process.pid)
    assert serve_process.running(state) is None and serve_process.stop(state) is None


def test_a_stale_record_or_a_foreign_server_is_not_taken_for_the_service(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "serve.pid").write_text(json.dumps({"pid": 2**22 + 7, "port": serve_process.free_port(), "model": "x"}))
    assert serve_process.running(state) is None
    assert not serve_process.serves(serve_process.free_port(), "x")
