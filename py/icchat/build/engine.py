"""Build the icchat engine: the gpt2 canister's own model compiled for the browser.

build/web/engine/<hash>/icchat-engine.wasm is compiled from the SAME sources as the gpt2
canister's forward pass (canister/gpt2/model.c, its weight file's parser, buffer plan and attention,
kernels.c, sampling.c, mathf.c and the C runtime's rt.c) plus canister/gpt2/browser/ (engine.c: the
exports web/engine.mjs calls; kernels_browser.c: int8-row matrix products; ops_browser.c: the
browser's implementation of canister/gpt2/ops.h, where the canister links ops_canister.c). Nothing
is copied: a change to the canister's arithmetic changes the engine the same way
(docs/on-device-engine.md).

`-fvisibility=hidden` keeps --export-dynamic from exporting every C function, so only the
`engine_*` exports stay, and the linker drops what they cannot reach, with its ic0 imports: the
module imports just `ic0.trap` and `ic0.debug_print`, which engine.mjs provides.

icchat-sampler.wasm is the canister's token choice alone (sampling.c, mathf.c, rt.c and
canister/gpt2/browser/sampler.c), for the engine whose logits are not computed in canister code:
web/sampler.mjs runs it over onnxruntime-web's logits, so every engine samples with the same C.

Each engine module comes in two instruction sets: plain SIMD128, and relaxed SIMD (`-mrelaxed-simd`,
`*-relaxed.wasm`: the q8 products use i32x4.relaxed_dot_i8x16_i7x16_add, one VNNI instruction per
16 weights; kernels_browser.h says why the sums stay exact). A browser that validates relaxed SIMD
gets the relaxed module (web/engine.mjs engineModulePath), any other the plain one: the same tokens either way.
"""

from __future__ import annotations

from pathlib import Path

from icchat.build.canister import compile_c
from icchat.paths import BUILD, CANISTER_SRC

GPT2_SRC = CANISTER_SRC / "gpt2"
BROWSER_SRC = GPT2_SRC / "browser"
MODEL_SOURCES = ("model.c", "weight_file.c", "buffer_plan.c", "attention.c", "kernels.c", "sampling.c", "mathf.c")
BROWSER_SOURCES = ("kernels_browser.c", "ops_browser.c", "engine.c")
SAMPLER_SOURCES = (GPT2_SRC / "sampling.c", GPT2_SRC / "mathf.c", CANISTER_SRC / "runtime" / "rt.c",
                   BROWSER_SRC / "sampler.c")
SAMPLER_FILE = "icchat-sampler.wasm"
ENGINE_DIR = BUILD / "engine"
ENGINE_FLAGS = ("-fvisibility=hidden", "-Wl,--strip-debug")
RELAXED_FLAGS = ("-mrelaxed-simd",)
# wasm threads: atomics, memory imported as shared (web/engine.mjs creates it, every helper worker's
# instance gets the same), up to 4 GiB - 64 KiB; the stack pointer is exported so each helper gets its own stack
THREAD_FLAGS = ("-matomics", "-mbulk-memory", "-Wl,--import-memory", "-Wl,--shared-memory",
                "-Wl,--max-memory=4294901760", "-Wl,--export=__stack_pointer")


def engine_sources() -> list[Path]:
    return [*(GPT2_SRC / name for name in MODEL_SOURCES), CANISTER_SRC / "runtime" / "rt.c",
            *(BROWSER_SRC / name for name in BROWSER_SOURCES)]


# build.json's key of each engine module -> (threads, relaxed SIMD)
ENGINE_MODULES = {"engine": (False, False), "engine_threads": (True, False),
                  "engine_relaxed": (False, True), "engine_threads_relaxed": (True, True)}


def engine_file_name(*, threads: bool = False, relaxed: bool = False) -> str:
    """icchat-engine[-threads][-relaxed].wasm"""
    return "icchat-engine" + ("-threads" if threads else "") + ("-relaxed" if relaxed else "") + ".wasm"


def _build(out: Path | None, threads: bool, relaxed: bool) -> Path:
    defines: dict[str, str | int | None] = {"ENGINE_THREADS": 1} if threads else {}
    flags = (*ENGINE_FLAGS, *(THREAD_FLAGS if threads else ()), *(RELAXED_FLAGS if relaxed else ()))
    return compile_c(engine_sources(), out or ENGINE_DIR / engine_file_name(threads=threads, relaxed=relaxed),
                     include_dirs=[GPT2_SRC, BROWSER_SRC], defines=defines, extra_flags=flags)


def build_engine_wasm(out: Path | None = None, *, relaxed: bool = False) -> Path:
    """The single-threaded engine module (its own memory: any page can run it)."""
    return _build(out, threads=False, relaxed=relaxed)


def build_engine_modules() -> dict[str, Path]:
    """All four modules, by build.json key (ENGINE_MODULES); each file is named by engine_file_name."""
    return {key: _build(None, threads, relaxed) for key, (threads, relaxed) in ENGINE_MODULES.items()}


def build_sampler_wasm(out: Path | None = None) -> Path:
    """icchat-sampler.wasm: sampling.c's choose_token for logits computed elsewhere (web/sampler.mjs)."""
    return compile_c(SAMPLER_SOURCES, out or ENGINE_DIR / SAMPLER_FILE, include_dirs=[GPT2_SRC], extra_flags=ENGINE_FLAGS)
