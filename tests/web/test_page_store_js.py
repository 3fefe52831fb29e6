"""web/page-store.mjs under Node's test runner (tests/web/page_store.test.mjs)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent


def test_page_store_mjs(node_test):
    assert "# pass 5" in node_test(HERE / "page_store.test.mjs")
