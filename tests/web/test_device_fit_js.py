"""web/device-fit.mjs, weights.js's memory need and the small-device defaults under Node's test
runner (tests/web/device_fit.test.mjs)."""

from __future__ import annotations

from pathlib import Path


def test_device_fit_mjs(node_test):
    assert "# pass 7" in node_test(Path(__file__).parent / "device_fit.test.mjs")
