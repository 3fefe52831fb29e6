"""Every generated artifact under build/, in dependency order (idempotent, hash-checked).

    outputs = build_all()   # {"tokenizer": path, "gpt2": ..., "ic-site": build/ic/web}

Each step is cheap when its outputs are already up to date, so `icchat build`, `icchat up` and
`icchat deploy --app` always run it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from icchat.paths import BUILD


def build_tokenizer() -> Path:
    from icchat.model.vocab import ensure_tokenizer_dir

    return ensure_tokenizer_dir()


def build_gpt2_canister() -> Path:
    from icchat.build.gpt2 import build_gpt2_wasm

    return build_gpt2_wasm()


def build_assets_canister() -> Path:
    from icchat.build.assets import build_assets_wasm

    return build_assets_wasm()


def build_llm_canister() -> Path:
    from icchat.build.llm import build_llm_wasm

    return build_llm_wasm()


def build_ic_modules() -> Path:
    from icchat.build.metadata import build_ic_modules as build

    return build()  # the gzipped modules with their metadata: what every deploy installs


def build_web_page() -> Path:
    from icchat.build.web import build_web

    return build_web()


def build_ic_site() -> Path:
    from icchat.build.site import build_ic_site as build

    return build()  # build/ic/web: the page with mainnet's config and CSP, for dfx.json / icp.yaml


# (name, step) in dependency order
STEPS: list[tuple[str, Callable[[], Path]]] = [
    ("tokenizer", build_tokenizer),
    ("gpt2", build_gpt2_canister),
    ("assets", build_assets_canister),
    ("llm", build_llm_canister),
    ("ic-modules", build_ic_modules),
    ("web", build_web_page),
    ("ic-site", build_ic_site),
]


def build_all(log: Callable[[str], None] | None = print) -> dict[str, Path]:
    """Run every step; `log` (None: silent) gets one line per step: its output and time."""
    BUILD.mkdir(parents=True, exist_ok=True)
    outputs: dict[str, Path] = {}
    for name, step in STEPS:
        start = time.perf_counter()
        outputs[name] = step()
        if log is not None:
            log(f"  built {name:<10} {outputs[name]}  ({time.perf_counter() - start:.1f} s)")
    return outputs
