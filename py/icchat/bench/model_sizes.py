"""`icchat bench model_sizes`: what a generated token costs onchain, per GPT-2 model size.

The real gpt2 canister WASM in the local replica with the IC's cost model (as `icchat bench gpt2`,
docs/instruction-accounting.md), serving seeded weights of the shapes of distilgpt2 (6 layers,
12 heads, 768 wide), GPT-2 124M (12/12/768) and GPT-2 medium 355M (24/16/1024), each as the q8
and the f32 weight file: instructions per generated token (median over the tokens of one
`generate`, each one forward pass of one token plus greedy sampling, as `ic0.performance_counter`
counts it inside the canister) at a short context the caller's prefix cache holds, how many
tokens one 40B update fits, and what they cost in mainnet cycles and USD
(icchat.ic.prices: instructions plus each update's fixed fees, shared by its tokens).
Seeded weights cost what trained weights of the same shape cost: nothing depends on their values.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from icchat.bench._markdown import _environment, _num, _table
from icchat.bench._page_onchain import _per_token_at
from icchat.ic.prices import IC_PRICES
from icchat.replica.limits import UPDATE_INSTRUCTION_LIMIT

# The GPT2Config fields of each size (GPT-2's vocabulary and context).
SIZES: dict[str, dict[str, int]] = {
    # the demo model's shape (icchat.model.train's preset: its rows written back into GPT-2's vocabulary)
    "demo": {"n_layer": 4, "n_head": 4, "n_embd": 256, "n_positions": 256, "vocab_size": 50257},
    "distilgpt2": {"n_layer": 6, "n_head": 12, "n_embd": 768, "n_positions": 1024, "vocab_size": 50257},
    "gpt2": {"n_layer": 12, "n_head": 12, "n_embd": 768, "n_positions": 1024, "vocab_size": 50257},
    "gpt2-medium": {"n_layer": 24, "n_head": 16, "n_embd": 1024, "n_positions": 1024, "vocab_size": 50257},
}
# The seeded weight files' names (build/models/weights/<name>-s0-<dtype>.bin): GPT-2 124M's is the
# `small` preset's, which `icchat bench gpt2` measures too.
FILE_NAMES = {"demo": "demo-shape", "distilgpt2": "distilgpt2", "gpt2": "small", "gpt2-medium": "gpt2-medium"}
UNBOUNDED = {"window_instructions": 10**15, "caller_instructions": 10**15}  # no measurement reaches it


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--dtypes", nargs="+", default=["q8", "f32"], choices=["f32", "q8"])
    parser.add_argument("--context", type=int, default=16, help="tokens the caller's cache holds before generating")
    parser.add_argument("--new-tokens", type=int, default=8, help="tokens generated (the median is over them)")


def parameters(shape: dict[str, int]) -> int:
    """GPT-2's parameter count (wte, wpe, the blocks, the last layer norm; the LM head is wte)."""
    L, C = shape["n_layer"], shape["n_embd"]
    return (shape["vocab_size"] + shape["n_positions"]) * C + L * (12 * C * C + 13 * C) + 2 * C


def _measure(size: str, dtype: str, context: int, new_tokens: int) -> dict[str, Any]:
    from icchat.build.gpt2 import build_gpt2_wasm
    from icchat.gpt2_canister import Gpt2Canister
    from icchat.ic.principal import Principal
    from icchat.model.seeded_weights import seeded_weight_file
    from icchat.replica import Replica

    start = time.perf_counter()
    weights = seeded_weight_file(FILE_NAMES[size], 0, dtype, shape=SIZES[size])
    seeded_s = time.perf_counter() - start
    with Replica() as replica:  # one replica per model: the next one's memory is not shared with it
        canister = Gpt2Canister.install(replica, build_gpt2_wasm().read_bytes(), policy=UNBOUNDED)
        start = time.perf_counter()
        info = canister.upload(weights)
        upload_s = time.perf_counter() - start
        caller = canister.as_caller(Principal.self_authenticating(b"bench model size"))
        start = time.perf_counter()
        entry = _per_token_at(caller, context, new_tokens)
        wall_s = time.perf_counter() - start
    return {"weights_bytes": weights.stat().st_size, "cache_slots": info["cache_slots"],
            "seeded_weights_s": round(seeded_s, 1), "upload_s": round(upload_s, 1),
            "replica_wall_s": round(wall_s, 1), **entry,
            "mainnet_cycles_per_token": entry["mainnet_cycles_per_1000_tokens"] // 1000}


def run(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {"context": args.context, "new_tokens": args.new_tokens,
                              "update_instruction_limit": UPDATE_INSTRUCTION_LIMIT, "ic_prices": IC_PRICES, "sizes": {}}
    for size in args.sizes:
        entry: dict[str, Any] = {**SIZES[size], "parameters": parameters(SIZES[size])}
        for dtype in args.dtypes:
            entry[dtype] = _measure(size, dtype, args.context, args.new_tokens)
            print(f"  {size} {dtype}: {entry[dtype]['instructions_per_token']:,} instructions per token, "
                  f"{entry[dtype]['mainnet_cycles_per_token']:,} cycles")
        result["sizes"][size] = entry
    result["notes"] = (
        "instructions_per_token: median over the generated tokens of one `generate` update after `context` tokens "
        "the caller's prefix cache holds (a prefill first), greedy; each is one forward pass of one token plus "
        "sampling, measured inside the canister with ic0.performance_counter under the IC's instrumentation; "
        "tokens_per_update_message_by_limit: the 40B update limit / that figure; mainnet cycles = 1 per instruction "
        "plus each update's fixed fees (execution base fee, ingress reception) shared by the tokens it makes "
        "(icchat.ic.prices); seeded weights of each shape (the cost does not depend on their values); "
        "conversations cached: the prefix cache's KV slots (main.c KV_BUDGET, 768 MiB) less the scratch slot; "
        "replica_wall_s: this machine's wasmtime for the prefill and the generate, not the IC's")
    return result


def markdown(result: dict[str, Any]) -> list[str]:
    """BENCHMARKS.md's table: one row per size and weight file."""
    rows = []
    for size, entry in result["sizes"].items():
        for dtype in ("q8", "f32"):
            if dtype in entry:
                e = entry[dtype]
                rows.append([size, f"{entry['n_layer']}/{entry['n_head']}/{entry['n_embd']}",
                             f"{entry['parameters'] / 1e6:.0f}M", dtype, _num(e["weights_bytes"] / 1e6, 0),
                             _num(e["cache_slots"] - 1), _num(e["instructions_per_token"]),
                             _num(e["tokens_per_update_message_by_limit"]), _num(e["mainnet_cycles_per_token"]),
                             _num(e["usd_per_1000_tokens"], 4)])
    return ["## `icchat bench model_sizes`: onchain cost per generated token by model size", "",
            f"Produced by {_environment(result)}. The gpt2 canister in the local replica (IC cost model), seeded "
            f"weights of each shape, {result['new_tokens']} tokens generated after {result['context']} cached.", "",
            *_table(["model shape", "layers/heads/width", "parameters", "weight file", "MB", "conversations cached",
                     "instructions per token", "tokens per 40B update", "mainnet cycles per token",
                     "USD per 1,000 tokens"], rows),
            f"Notes: {result['notes']}", ""]
