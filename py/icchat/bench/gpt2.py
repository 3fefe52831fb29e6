"""`icchat bench gpt2`: IC instructions per token of the onchain GPT-2 canister.

Runs the real gpt2 canister WASM in the local replica with the IC's cost model (the IC's own
instrumentation and `instruction_to_cost` table plus System API charges, see
docs/instruction-accounting.md) on a seeded GPT-2 124M-shape model (`small`, seed 0), for the
f32 and q8 weight files: the per-token figure (median over the generated tokens, each one
forward pass of one token plus sampling, as `ic0.performance_counter` reports it inside the
canister), the prompt pass for several prompt lengths (does a 512-token prompt fit one 40B
update?), the upload, and wall-clock time in the replica.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from icchat.replica.limits import UPDATE_INSTRUCTION_LIMIT

COST_MODEL = ("IC instrumentation (rs/embedders/src/wasm_utils/instrumentation.rs: per basic block, "
              "instruction_to_cost, e.g. f32x4.mul 2, v128.load 1, local.get 1, call 5) + System API "
              "charges (system_api_complexity.rs), as counted by icchat.replica.meter")
TARGETS = {"f32": 200_000_000, "q8": 70_000_000}
PUBLIC_ONCHAIN_GPT2 = 1_100_000_000  # instructions per token of public onchain GPT-2 canisters (brief)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="small", help="seeded model shape (small = GPT-2 124M)")
    parser.add_argument("--dtypes", nargs="+", default=["f32", "q8"], choices=["f32", "q8"])
    parser.add_argument("--new-tokens", type=int, default=16, help="tokens generated per run")
    parser.add_argument("--prompt-lengths", type=int, nargs="+", default=[8, 64, 512])


def _prompt(length: int) -> list[int]:
    # a fixed, varied token sequence (ids below 50256 so no stop token appears)
    return [(1000 + 7919 * i) % 50000 for i in range(length)]


def _measure(preset: str, dtype: str, new_tokens: int, prompt_lengths: list[int]) -> dict[str, Any]:
    from icchat.build.gpt2 import build_gpt2_wasm
    from icchat.gpt2_canister import Gpt2Canister
    from icchat.ic.principal import Principal
    from icchat.model.seeded_weights import seeded_weight_file
    from icchat.replica import Reject, Replica

    weights = seeded_weight_file(preset, 0, dtype)
    with Replica() as replica:
        canister = Gpt2Canister.install(replica, build_gpt2_wasm().read_bytes())
        start = time.perf_counter()
        info = canister.upload(weights)
        upload_s = time.perf_counter() - start
        # generate as the anonymous principal: the canister's prefix cache is per caller and never
        # serves anonymous calls, so every call below computes its whole prompt
        canister = Gpt2Canister(replica, canister.id, Principal.anonymous())

        start = time.perf_counter()
        canister.generate(_prompt(8), max_new_tokens=1, stop=[])
        prompt_only_s = time.perf_counter() - start
        start = time.perf_counter()
        reply = canister.generate(_prompt(8), max_new_tokens=new_tokens, stop=[])
        generate_s = time.perf_counter() - start
        per_token = reply["token_instructions"]
        prompts = {}
        for length in prompt_lengths:
            if length + 1 > info["n_ctx"]:
                continue
            start = time.perf_counter()
            try:
                pass_reply = canister.generate(_prompt(length), max_new_tokens=1, stop=[])
            except Reject as reject:  # e.g. over the 40B instruction limit of one update
                prompts[str(length)] = {"fits_one_update": False, "reject": reject.message}
                continue
            prompts[str(length)] = {
                "instructions": pass_reply["prompt_instructions"],
                "instructions_per_prompt_token": round(pass_reply["prompt_instructions"] / length),
                "fits_one_update": pass_reply["instructions"] <= UPDATE_INSTRUCTION_LIMIT,
                "wall_s": round(time.perf_counter() - start, 3),
            }
    median = int(statistics.median(per_token))
    return {
        "weights_bytes": weights.stat().st_size,
        "upload_s": round(upload_s, 2),
        "instructions_per_token": median,
        "instructions_per_token_min_max": [min(per_token), max(per_token)],
        "target_instructions_per_token": TARGETS[dtype],
        "vs_target": round(median / TARGETS[dtype], 3),
        "vs_public_onchain_gpt2": round(median / PUBLIC_ONCHAIN_GPT2, 3),
        "replica_wall_ms_per_token": round((generate_s - prompt_only_s) * 1000 / max(1, len(per_token)), 1),
        "prompt_pass": prompts,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from icchat.model.source import PRESETS

    result: dict[str, Any] = {"cost_model": COST_MODEL, "model": {"preset": args.preset, "seed": 0, **PRESETS[args.preset]},
                              "new_tokens": args.new_tokens}
    for dtype in args.dtypes:
        result[dtype] = _measure(args.preset, dtype, args.new_tokens, args.prompt_lengths)
        print(f"  {dtype}: {result[dtype]['instructions_per_token']:,} instructions per token "
              f"(target {TARGETS[dtype]:,})")
    result["notes"] = ("instructions_per_token: median over generated tokens after an 8-token prompt; each is one "
                       "forward pass of one token with the KV cache plus sampling (greedy), measured inside the canister "
                       "with ic0.performance_counter; replica_wall_ms_per_token: (generate of new_tokens - generate of 1) / "
                       "(new_tokens - 1), whole update calls on this machine's wasmtime, not the IC's")
    return result


def plot(result: dict[str, Any], png: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dtypes = [d for d in ("f32", "q8") if d in result]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    measured = [result[d]["instructions_per_token"] / 1e6 for d in dtypes]
    targets = [TARGETS[d] / 1e6 for d in dtypes]
    x = range(len(dtypes))
    ax.bar([i - 0.2 for i in x], measured, width=0.4, label="icchat gpt2 canister")
    ax.bar([i + 0.2 for i in x], targets, width=0.4, label="target")
    ax.axhline(PUBLIC_ONCHAIN_GPT2 / 1e6, color="grey", linestyle="--", label="public onchain GPT-2 (~1.1B)")
    ax.set_xticks(list(x), dtypes)
    ax.set_yscale("log")
    ax.set_ylabel("IC instructions per token (millions)")
    ax.set_title("GPT-2 124M, one generated token, IC cost model")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=120)
