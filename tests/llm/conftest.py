"""The llm canister's module, built once per session; a local replica and a real LLM service (`icchat
serve` on a tiny seeded bundle) per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.llm_service import tiny_service

from icchat.build.llm import build_llm_wasm
from icchat.replica import Replica


@pytest.fixture(scope="session")
def llm_wasm() -> bytes:
    return build_llm_wasm().read_bytes()


@pytest.fixture(scope="module")
def replica():
    with Replica() as replica:
        yield replica


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> Iterator[str]:
    """`icchat serve`'s server on a tiny seeded bundle; its base URL."""
    with tiny_service(tmp_path_factory.mktemp("llm")) as base:
        yield base
