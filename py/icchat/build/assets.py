"""Build the asset canister (canister/assets/*.c + the asset store + the shared C runtime) into
build/canisters/assets.wasm."""

from __future__ import annotations

from pathlib import Path

from icchat.build.canister import compile_c
from icchat.build.gpt2 import runtime_sources
from icchat.paths import BUILD, CANISTER_SRC

ASSETS_WASM = BUILD / "canisters" / "assets.wasm"
ASSETS_DID = CANISTER_SRC / "assets.did"
STORE_DIR = CANISTER_SRC / "assetstore"


def store_sources() -> list[Path]:
    """The asset store and its HTTP serving (linked by every canister that serves files)."""
    return sorted(STORE_DIR.glob("*.c"))


def build_assets_wasm(out: Path = ASSETS_WASM) -> Path:
    sources = sorted((CANISTER_SRC / "assets").glob("*.c"))
    return compile_c([*sources, *store_sources(), *runtime_sources()], out,
                     include_dirs=[CANISTER_SRC / "assets", STORE_DIR],
                     extra_flags=["-Wall", "-Wextra", "-Werror"])
