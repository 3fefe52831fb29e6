"""`icchat bench engine`: the icchat engine alone (web/engine.mjs over the module the page picks,
icchat-engine[-threads]-relaxed.wasm: the gpt2 canister's C model) in headless Chromium, on a
bundle's canister weight files: ms per generated token at 1 and 2 threads, at 16 and 512 tokens of context, q8 and f32; and the prompt
pass. Greedy, prompt = CONTEXT tokens, then --steps steps; the first WARMUP steps are dropped.
`--simd128` adds the plain SIMD128 modules (browsers without relaxed SIMD) as `icchat-engine-simd128`.

The engine inside the real page (Pyodide driving it, beside onnxruntime-web, transformers.js and
native onnxruntime) is `icchat bench page --contenders icchat-engine,...`; this one isolates the
engine's own speed. The machine's load average is recorded: on a shared machine the figures are
upper bounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path
from typing import Any

from icchat.errors import UserError

WARMUP = 2
TARGETS = {"q8_t2_ms_per_token": 13.0, "growth_512_vs_16": 1.3,
           "f32_vs_onnxruntime_web_f32": 1.2, "onnxruntime_web_f32_ms_reference": 30.0}


def _list(kind: type) -> Any:
    return lambda text: [kind(v) for v in text.split(",") if v]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bundle", default="small", help="small | tiny | a bundle directory (canister/gpt2-*.bin)")
    parser.add_argument("--dtypes", type=_list(str), default=["q8", "f32"])
    parser.add_argument("--threads", type=_list(int), default=[1, 2])
    parser.add_argument("--contexts", type=_list(int), default=[16, 512])
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--simd128", action="store_true", help="also the SIMD128 modules (no relaxed SIMD)")
    parser.add_argument("--no-ortweb", action="store_true",
                        help="skip bare onnxruntime-web 1.30 (icchat bench page's `ortweb`) on the same prompt, interleaved")


def _bundle_dir(bundle: str) -> Path:
    from icchat.stack.models import SEEDED, choose_model

    path = choose_model(bundle, print).path if bundle in SEEDED else Path(bundle).expanduser()
    if not (path / "canister").is_dir():
        raise UserError(f"--bundle {bundle}: no canister/ weight files in {path}")
    return path


def _ortweb(bench: Any, dtype: str, threads: int, prompt: list[int], steps: int) -> dict[str, Any]:
    from icchat.bench.page import DecodeJob, ortweb_decode

    run = ortweb_decode(bench, DecodeJob(dtype, threads, prompt, "", steps + 1))
    return {"step_ms": run["step_ms"], "prefill_ms": run["prefill_ms"], "tokens": run["tokens"]}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from icchat.bench._engine_page import EngineOrigin, engine_wasm_path

    if args.steps <= WARMUP or args.repeats < 1:
        raise UserError(f"--steps must be > {WARMUP} and --repeats >= 1")
    from icchat.bench.page import Bench

    bundle = _bundle_dir(args.bundle)
    weights = bundle / "canister"
    load_before = os.getloadavg()
    runs: list[dict[str, Any]] = []
    with EngineOrigin(weights) as origin, Bench(bundle) as bench:
        profile = bench.browser.fresh()  # one browser (icchat bench page's) for both engines
        page = origin.open(profile)
        for repeat in range(args.repeats):  # interleaved: drift hits every configuration alike
            for dtype in args.dtypes:
                for threads in args.threads:
                    for context in args.contexts:
                        job = {"wasm": engine_wasm_path(threads), "threads": threads,
                               "weights": f"/weights/gpt2-{dtype}.bin", "steps": args.steps,
                               "prompt": [(1000 + 7919 * i) % 50000 for i in range(context)]}
                        engines = {"icchat-engine": lambda job=job: origin.run(page, job)}
                        if args.simd128:
                            plain = {**job, "wasm": engine_wasm_path(threads, relaxed=False)}
                            engines["icchat-engine-simd128"] = lambda job=plain: origin.run(page, job)
                        if not args.no_ortweb and context == min(args.contexts):
                            engines["ortweb"] = lambda d=dtype, t=threads, p=job["prompt"]: _ortweb(bench, d, t, p, args.steps)
                        for engine, measure in engines.items():
                            result = measure()
                            steps = result["step_ms"][WARMUP:]
                            runs.append({"engine": engine, "dtype": dtype, "threads": threads, "context": context,
                                         "repeat": repeat, "step_ms_median": statistics.median(steps),
                                         "step_ms_min": min(steps), "prefill_ms": result["prefill_ms"],
                                         "tokens": result["tokens"][:8], "q8_kernel": result.get("kernel")})
                            print(f"{engine} {dtype} t{threads} ctx {context}: {runs[-1]['step_ms_median']:.1f} ms/token "
                                  f"(min {runs[-1]['step_ms_min']:.1f}), prompt {result['prefill_ms']:.0f} ms"
                                  + (f", q8 kernel {result['kernel']}" if result.get("kernel") else ""))
        profile.close()
    return {"weights": str(weights), "warmup_steps": WARMUP, "targets": TARGETS, "runs": runs,
            "summary": summarize(runs), "load_average": {"before": load_before, "after": os.getloadavg()},
            "note": "ms per generated token after the warm-up steps; median of the runs' medians (min of the runs' minima)"}


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    cells: dict[str, Any] = {}
    for key in sorted({(r["engine"], r["dtype"], r["threads"], r["context"]) for r in runs}):
        rows = [r for r in runs if (r["engine"], r["dtype"], r["threads"], r["context"]) == key]
        cells[f"{key[0]} {key[1]} t{key[2]} ctx{key[3]}"] = {
            "step_ms": round(statistics.median(r["step_ms_median"] for r in rows), 2),
            "step_ms_min": round(min(r["step_ms_min"] for r in rows), 2),
            "prefill_ms": round(statistics.median(r["prefill_ms"] for r in rows), 1)}
    growth = {}
    for name, cell in cells.items():
        if name.endswith("ctx512") and name.replace("ctx512", "ctx16") in cells:
            growth[name.removesuffix(" ctx512")] = round(cell["step_ms"] / cells[name.replace("ctx512", "ctx16")]["step_ms"], 2)
    speedup = {}
    for name, cell in cells.items():
        peer = name.replace("icchat-engine", "ortweb")
        if name.startswith("icchat-engine") and peer in cells:
            speedup[name.removeprefix("icchat-engine ")] = round(cells[peer]["step_ms"] / cell["step_ms"], 2)
    return {"cells": cells, "growth_512_vs_16": growth, "speedup_vs_ortweb": speedup}
