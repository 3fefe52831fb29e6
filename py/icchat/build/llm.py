"""Build the llm canister (canister/llm/*.c + the access policy + the shared C runtime with its JSON
reader) into build/canisters/llm.wasm: a conversation answered through an LLM service, by an HTTPS
outcall or a call to an LLM canister (docs/llm-service.md). What the IC installs is its gzipped
form with metadata (icchat.build.metadata); `build_llm_wasm_gz` gives the plain gzipped module."""

from __future__ import annotations

from pathlib import Path

from icchat.build.canister import (
    ACCESS_DIR,
    RUNTIME_INCLUDE,
    access_sources,
    compile_c,
    gzip_module,
    runtime_sources,
)
from icchat.build.gpt2 import STRIP_DEBUG
from icchat.paths import BUILD, CANISTER_SRC

LLM_WASM = BUILD / "canisters" / "llm.wasm"
LLM_DID = CANISTER_SRC / "llm.did"


def build_llm_wasm(out: Path = LLM_WASM) -> Path:
    """The llm canister: the route (canister/llm), the access policy, the runtime and json.c."""
    sources = sorted((CANISTER_SRC / "llm").glob("*.c"))
    return compile_c([*sources, *access_sources(), *runtime_sources(), RUNTIME_INCLUDE / "json.c"], out,
                     include_dirs=[CANISTER_SRC / "llm", ACCESS_DIR], extra_flags=STRIP_DEBUG)


def build_llm_wasm_gz(out: Path | None = None) -> Path:
    """build/canisters/llm.wasm.gz beside the raw module (deterministic)."""
    wasm = build_llm_wasm()
    return gzip_module(wasm, out or wasm.with_name(wasm.name + ".gz"))
