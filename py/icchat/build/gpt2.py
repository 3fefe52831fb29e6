"""Build the gpt2 canister (canister/gpt2/*.c + the shared C runtime) into build/canisters/gpt2.wasm."""

from __future__ import annotations

from pathlib import Path

from icchat.build.canister import compile_c
from icchat.paths import BUILD, CANISTER_SRC

RUNTIME_SOURCES = ("rt.c", "sha256.c", "candid.c")
GPT2_WASM = BUILD / "canisters" / "gpt2.wasm"
GPT2_DID = CANISTER_SRC / "gpt2.did"


def runtime_sources() -> list[Path]:
    return [CANISTER_SRC / "runtime" / name for name in RUNTIME_SOURCES]


def build_gpt2_wasm(out: Path = GPT2_WASM) -> Path:
    sources = sorted((CANISTER_SRC / "gpt2").glob("*.c"))
    return compile_c([*sources, *runtime_sources()], out, include_dirs=[CANISTER_SRC / "gpt2"])
