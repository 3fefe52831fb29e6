"""Chromium for tests: skipped where Debian Chromium is missing, launched the way every run
launches it (icchat.bench._host: headless, offline but for loopback)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from icchat.bench._host import chromium_missing, launch_chromium


def require_chromium() -> None:
    """Skip the calling test (or fixture) where Debian Chromium is missing."""
    if reason := chromium_missing():
        pytest.skip(reason)


@contextmanager
def chromium(*extra_args: str) -> Iterator[Any]:
    """`with chromium() as browser:` a Playwright (sync API) browser, closed afterwards."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, *extra_args)
        try:
            yield browser
        finally:
            browser.close()
