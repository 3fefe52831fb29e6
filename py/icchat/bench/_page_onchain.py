"""Onchain figures for `icchat bench page`, with icchat.bench.gpt2's machinery (its IC cost model
in the local replica, its prompt tokens, its chat turns and its mainnet price table):
instructions per generated token at several contexts (an authenticated caller's prefix cache
holds the context, so each generated token is one forward pass at that position), tokens per
40B update message, and one chat turn per mode (calls, instructions, mainnet cycles per 1,000
answer tokens)."""

from __future__ import annotations

import statistics
from typing import Any

from icchat.bench.gpt2 import TARGETS, _prompt, chat_turns
from icchat.ic.prices import IC_PRICES, update_cycles, usd
from icchat.replica.limits import UPDATE_INSTRUCTION_LIMIT


def _per_token_at(canister: Any, context: int, new_tokens: int) -> dict[str, Any]:
    prefill = list(canister.prefill_all(_prompt(context)))
    reply = canister.generate(_prompt(context), max_new_tokens=new_tokens, stop=[])
    per_token = reply["token_instructions"]
    median = int(statistics.median(per_token))
    per_update = UPDATE_INSTRUCTION_LIMIT // max(1, median)
    # verified generation: instructions + each update's fixed fees, shared by the tokens it makes
    cycles = 1000 * median + -(-1000 // max(1, per_update)) * update_cycles(0, 0)
    return {"instructions_per_token": median, "min_max": [min(per_token), max(per_token)],
            "tokens": len(per_token), "prefill_updates": len(prefill),
            "tokens_per_update_message_by_limit": per_update, "mainnet_cycles_per_1000_tokens": cycles,
            "usd_per_1000_tokens": round(usd(cycles), 6)}


def measure(preset: str, dtypes: list[str], contexts: list[int], new_tokens: int, history: int | None,
            answer_tokens: int, log: Any = print) -> dict[str, Any]:
    from icchat.build.gpt2 import build_gpt2_wasm
    from icchat.gpt2_canister import Gpt2Canister
    from icchat.ic.principal import Principal
    from icchat.model.seeded_weights import seeded_weight_file
    from icchat.replica import Replica

    out: dict[str, Any] = {"preset": preset, "ic_prices": IC_PRICES, "update_instruction_limit": UPDATE_INSTRUCTION_LIMIT}
    for dtype in dtypes:
        with Replica() as replica:
            canister = Gpt2Canister.install(replica, build_gpt2_wasm().read_bytes())
            info = canister.upload(seeded_weight_file(preset, 0, dtype))
            entry: dict[str, Any] = {"target_instructions_per_token": TARGETS[dtype], "contexts": {}}
            for context in contexts:
                if context + new_tokens > info["n_ctx"]:
                    continue
                # a caller of its own per context, so no cached prefix but its own is reused
                caller = Gpt2Canister(replica, canister.id, Principal.self_authenticating(b"bench page %d" % context))
                entry["contexts"][str(context)] = _per_token_at(caller, context, new_tokens)
                log(f"    onchain {dtype} at context {context}: "
                    f"{entry['contexts'][str(context)]['instructions_per_token'] / 1e6:.1f}M instructions per token")
            if history:
                turn = chat_turns(replica, canister.id, [history], 20, answer_tokens)[str(history)]
                entry["chat_turn"] = {"history_tokens": history, "message_tokens": 20, "answer_tokens": answer_tokens,
                                      **{mode: {k: turn[mode][k] for k in ("calls", "updates", "queries", "instructions",
                                                                          "mainnet_cycles", "mainnet_cycles_per_1000_tokens",
                                                                          "usd_per_1000_tokens", "answer_tokens")}
                                         for mode in ("verified", "fast")},
                                      "verified_tokens_per_generate_update": round(
                                          turn["verified"]["answer_tokens"] / max(1, turn["verified"]["calls"].get("generate", 0)), 1)}
        out[dtype] = entry
    return out
