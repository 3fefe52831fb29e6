"""Build the gpt2 canister (canister/gpt2/*.c + the access policy + the asset store + the shared C
runtime) into build/canisters/gpt2.wasm. What the IC installs is its gzipped form with metadata
(icchat.build.metadata); `build_gpt2_wasm_gz` gives the plain gzipped module (the IC inflates
modules that start with the gzip magic) to tests that install it without metadata."""

from __future__ import annotations

from pathlib import Path

from icchat.build.canister import (
    ACCESS_DIR,
    STORE_DIR,
    access_sources,
    compile_c,
    gzip_module,
    runtime_sources,
    store_sources,
)
from icchat.paths import BUILD, CANISTER_SRC

GPT2_WASM = BUILD / "canisters" / "gpt2.wasm"
GPT2_DID = CANISTER_SRC / "gpt2.did"
# zig cc emits DWARF (3 MB of .debug_* sections for 0.3 MB of code); the `name` section stays for
# readable traps and profiles
STRIP_DEBUG = ("-Wl,--strip-debug",)


def build_gpt2_wasm(out: Path = GPT2_WASM) -> Path:
    """The model canister: GPT-2 (canister/gpt2) on the asset store that holds and serves its bundle,
    with the access policy (canister/access)."""
    sources = sorted((CANISTER_SRC / "gpt2").glob("*.c"))
    return compile_c([*sources, *access_sources(), *store_sources(), *runtime_sources()], out,
                     include_dirs=[CANISTER_SRC / "gpt2", ACCESS_DIR, STORE_DIR], extra_flags=STRIP_DEBUG)


def build_gpt2_wasm_gz(out: Path | None = None) -> Path:
    """build/canisters/gpt2.wasm.gz beside the raw module (deterministic: no name, mtime 0)."""
    wasm = build_gpt2_wasm()
    return gzip_module(wasm, out or wasm.with_name(wasm.name + ".gz"))
