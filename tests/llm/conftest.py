"""The llm canister's module, built once per session, and a local replica per test module."""

from __future__ import annotations

import pytest

from icchat.build.llm import build_llm_wasm
from icchat.replica import Replica


@pytest.fixture(scope="session")
def llm_wasm() -> bytes:
    return build_llm_wasm().read_bytes()


@pytest.fixture(scope="module")
def replica():
    with Replica() as replica:
        yield replica
