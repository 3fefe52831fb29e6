"""The chat worker's JavaScript parts that run without a browser (tests/web/worker_parts.test.mjs):
the engine and model file choice, the manifest format check, the idle scheduler."""

from __future__ import annotations

from pathlib import Path


def test_worker_parts(node_test):
    report = node_test(Path(__file__).parent / "worker_parts.test.mjs")
    assert "# pass 5" in report
