"""Build the asset canister (canister/assets/*.c + the asset store + the shared C runtime) into
build/canisters/assets.wasm."""

from __future__ import annotations

from pathlib import Path

from icchat.build.canister import STORE_DIR, compile_c, runtime_sources, store_sources
from icchat.paths import BUILD, CANISTER_SRC

ASSETS_WASM = BUILD / "canisters" / "assets.wasm"
ASSETS_DID = CANISTER_SRC / "assets.did"


def build_assets_wasm(out: Path = ASSETS_WASM) -> Path:
    sources = sorted((CANISTER_SRC / "assets").glob("*.c"))
    return compile_c([*sources, *store_sources(), *runtime_sources()], out,
                     include_dirs=[CANISTER_SRC / "assets", STORE_DIR],
                     extra_flags=["-Wall", "-Wextra", "-Werror"])
