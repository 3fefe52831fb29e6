"""web/network.mjs under Node's test runner (tests/mainnet/network.test.mjs)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent


def test_network_mjs(node_test):
    assert "# pass 8" in node_test(HERE / "network.test.mjs")
