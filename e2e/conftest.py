"""End-to-end fixtures: the page in Debian Chromium (Python Playwright) against `icchat up`'s
stack — the local replica, the page in the asset canister and the model bundle in the gpt2
canister, reached through the replica's HTTP gateway (e2e/replica_stack.py). It runs in its own
state directory and port, with the tiny seeded model (not meaningful: the page says so). Chromium is
launched by tests/support (the same launch as the tests' and the benchmarks').
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.browser import chromium

from icchat.bench._host import tiny_bundle
from icchat.paths import BUILD

ARTIFACTS = BUILD / "e2e-artifacts"


@pytest.fixture(scope="session")
def tiny_bundle_dir() -> Path:
    """The tiny seeded bundle's directory (exported once, reused while it verifies), for tests that
    start a stack of their own."""
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
def q8_stack(tmp_path_factory, tiny_bundle_dir) -> Iterator[object]:
    """A stack whose gpt2 canister runs the q8 weights, as `icchat up`'s does: the bundle then
    carries the canister's q8 weight file, which `auto` runs on the icchat engine (the same file)."""
    from replica_stack import ReplicaStack

    running = ReplicaStack(tiny_bundle_dir, tmp_path_factory.mktemp("q8-stack"), onchain_dtype="q8").start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    with chromium() as launched:
        yield launched


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
