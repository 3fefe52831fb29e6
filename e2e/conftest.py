"""End-to-end fixtures: the page in Debian Chromium (Python Playwright) against `icchat up`'s
stack — the local replica, the page in the asset canister and the model bundle in the gpt2
canister, reached through the replica's HTTP gateway (e2e/replica_stack.py). It runs in its own
state directory and port, with the tiny seeded model (not meaningful: the page says so).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from icchat.paths import BUILD

ARTIFACTS = BUILD / "e2e-artifacts"
MODEL_CACHE = BUILD / "e2e-model" / "tiny-s0"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # Offline for real: every name fails to resolve except the loopback ones the stack uses
    # (Chromium resolves *.localhost to loopback itself).
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE *.localhost , EXCLUDE 127.0.0.1",
]


def tiny_bundle() -> Path:
    """The tiny seeded bundle, exported once and reused while it still verifies."""
    from icchat.model.export import cached_seeded_bundle

    return cached_seeded_bundle(MODEL_CACHE)


@pytest.fixture(scope="session")
def tiny_bundle_dir() -> Path:
    """The tiny bundle's directory, for tests that start a stack of their own."""
    return tiny_bundle()


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Iterator[object]:
    from replica_stack import ReplicaStack

    running = ReplicaStack(tiny_bundle(), tmp_path_factory.mktemp("stack")).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian Chromium (/usr/bin/chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def chat(browser, stack):
    """The page at desktop size, booted and ready, shared by a module's tests (test_chat_page.py
    and test_icchat_engine.py bring their own)."""
    from test_chat_page import ChatPage

    context = browser.new_context(viewport={"width": 1200, "height": 820})
    page = ChatPage(context, stack).open()
    assert page.state() == "ready", page.page.text_content("#error-text")
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def figures(artifacts) -> Iterator[dict]:
    """Numbers the tests observe (start-up phases, tokens/s, stop latency): figures.json."""
    found: dict = {}
    yield found
    (artifacts / "figures.json").write_text(json.dumps(found, indent=2) + "\n")
