"""Build the kernel-check modules: the gpt2 kernels next to their naive reference (canister/gpt2/
kernels_ref.c) and the exports of canister/probes/kernel_check/, compiled as each real build
compiles the kernels, so tests/kernels can assert that every fast kernel equals the reference bit
for bit.

    from icchat.build.kernel_check import build_kernel_check
    wasm = build_kernel_check("relaxed")

One module per build the kernels ship in (CHECK_BUILDS): "canister" (kernels.c with the gpt2
canister's flags), "simd128" and "relaxed" (the icchat engine's one-thread modules, with their flags
and defines) and "threads" (the threaded, relaxed engine's products: their row and
token split, browser/ops_browser.c). The sources of each are listed here and nowhere else.
"""

from __future__ import annotations

from pathlib import Path

from icchat.build.canister import compile_c
from icchat.build.engine import BROWSER_SRC, ENGINE_FLAGS, GPT2_SRC, RELAXED_FLAGS, THREAD_FLAGS
from icchat.build.gpt2 import STRIP_DEBUG
from icchat.paths import BUILD, CANISTER_SRC

CHECK_SRC = CANISTER_SRC / "probes" / "kernel_check"
CHECK_DIR = BUILD / "kernel-check"
RT = CANISTER_SRC / "runtime" / "rt.c"

# every module: the reference, what the kernels call, and the exports of kernels.h's kernels
REFERENCE_SOURCES = (GPT2_SRC / "kernels_ref.c", GPT2_SRC / "mathf.c", RT, CHECK_SRC / "check_kernels.c")
CANISTER_KERNELS = (GPT2_SRC / "kernels.c",)
BROWSER_KERNELS = (GPT2_SRC / "kernels.c", BROWSER_SRC / "kernels_browser.c", CHECK_SRC / "check_browser.c")
# the engine's ops (attention.c and buffer_plan.c: what ops_browser.c calls besides the kernels)
THREADED_PRODUCTS = (BROWSER_SRC / "ops_browser.c", GPT2_SRC / "attention.c", GPT2_SRC / "buffer_plan.c",
                     CHECK_SRC / "check_threads.c")

# build name -> (sources, defines, flags). -fvisibility=hidden (in ENGINE_FLAGS) keeps only the
# check exports, so the canister module imports no more of ic0 than `trap` and `debug_print`.
CHECK_BUILDS: dict[str, tuple[tuple[Path, ...], dict[str, str | int | None], tuple[str, ...]]] = {
    "canister": ((*REFERENCE_SOURCES, *CANISTER_KERNELS), {}, ("-fvisibility=hidden", *STRIP_DEBUG)),
    "simd128": ((*REFERENCE_SOURCES, *BROWSER_KERNELS), {}, ENGINE_FLAGS),
    "relaxed": ((*REFERENCE_SOURCES, *BROWSER_KERNELS), {}, (*ENGINE_FLAGS, *RELAXED_FLAGS)),
    "threads": ((*REFERENCE_SOURCES, *BROWSER_KERNELS, *THREADED_PRODUCTS), {"ENGINE_THREADS": 1},
                (*ENGINE_FLAGS, *THREAD_FLAGS, *RELAXED_FLAGS)),
}


def build_kernel_check(build: str) -> Path:
    """build/kernel-check/kernel-check-<build>.wasm for one of CHECK_BUILDS."""
    sources, defines, flags = CHECK_BUILDS[build]
    return compile_c(sources, CHECK_DIR / f"kernel-check-{build}.wasm", include_dirs=[GPT2_SRC, BROWSER_SRC, CHECK_SRC],
                     defines=defines, extra_flags=flags)
