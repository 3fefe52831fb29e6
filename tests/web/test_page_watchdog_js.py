"""web/page-watchdog.mjs under Node's test runner (tests/web/page_watchdog.test.mjs)."""

from __future__ import annotations

from pathlib import Path


def test_page_watchdog_mjs(node_test):
    assert "# pass 4" in node_test(Path(__file__).parent / "page_watchdog.test.mjs")
