"""`icchat build`: produce every generated artifact under build/ (idempotent, hash-checked).

Each step is cheap when its outputs are already up to date, so `icchat up` can always run it.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from icchat.paths import BUILD


def build_tokenizer() -> Path:
    from icchat.model.vocab import ensure_tokenizer_dir

    return ensure_tokenizer_dir()


def build_gpt2_canister() -> Path:
    from icchat.build.gpt2 import build_gpt2_wasm, build_gpt2_wasm_gz

    build_gpt2_wasm_gz()  # gpt2.wasm.gz beside it: the module install_code sends
    return build_gpt2_wasm()


def build_assets_canister() -> Path:
    from icchat.build.assets import build_assets_wasm

    return build_assets_wasm()


def build_ic_modules() -> Path:
    from icchat.build.metadata import build_ic_modules as build

    return build()  # the gzipped modules with candid:service metadata that dfx/icp/mainnet install


def build_web_page() -> Path:
    from icchat.build.web import build_web

    return build_web()


def build_ic_site() -> Path:
    from icchat.stack.mainnet import build_ic_site as build

    return build()  # build/ic/web: the page with mainnet's config and CSP, for dfx.json / icp.yaml


# (name, step) in dependency order; later issues append the asset canister, the page and the wheel.
STEPS: list[tuple[str, Callable[[], Path]]] = [
    ("tokenizer", build_tokenizer),
    ("gpt2", build_gpt2_canister),
    ("assets", build_assets_canister),
    ("ic-modules", build_ic_modules),
    ("web", build_web_page),
    ("ic-site", build_ic_site),
]


def build_all(verbose: bool = True) -> dict[str, Path]:
    BUILD.mkdir(parents=True, exist_ok=True)
    outputs: dict[str, Path] = {}
    for name, step in STEPS:
        start = time.perf_counter()
        outputs[name] = step()
        if verbose:
            elapsed = time.perf_counter() - start
            print(f"  built {name:<10} {outputs[name]}  ({elapsed:.1f} s)")
    return outputs


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("build", help="build every generated artifact into build/")
    parser.set_defaults(func=lambda args: build_all() and 0)
