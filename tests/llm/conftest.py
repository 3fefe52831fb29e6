"""The llm canister's module, built once per session."""

from __future__ import annotations

import pytest

from icchat.build.llm import build_llm_wasm


@pytest.fixture(scope="session")
def llm_wasm() -> bytes:
    return build_llm_wasm().read_bytes()
