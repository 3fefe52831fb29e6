"""`icchat bench gpt2`: IC instructions per token of the onchain GPT-2 canister.

Runs the real gpt2 canister WASM in the local replica with the IC's cost model (the IC's own
instrumentation and `instruction_to_cost` table plus System API charges, see
docs/instruction-accounting.md) on a seeded GPT-2 124M-shape model (`small`, seed 0), for the
f32 and q8 weight files: the per-token figure (median over the generated tokens, each one
forward pass of one token plus sampling, as `ic0.performance_counter` reports it inside the
canister), the prompt pass for several prompt lengths (does a 512-token prompt fit one 40B
update?), the upload, and wall-clock time in the replica.

Chat turns (`chat_turns`): a new message and an answer on top of 50 / 250 / 500 tokens of history
that the caller's prefix cache holds from the turn before, in each mode — verified (`generate`
updates) and fast (`prefill` updates + `generate_query` queries) — with the calls, instructions and
mainnet cycles they take, priced with the IC's published cycles cost table (icchat.ic.prices).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from icchat.ic.prices import IC_PRICES, update_cycles, usd
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
    parser.add_argument("--history", type=int, nargs="+", default=[50, 250, 500], help="chat turns: tokens of history")
    parser.add_argument("--message-tokens", type=int, default=20, help="chat turns: the new message's tokens")
    parser.add_argument("--answer-tokens", type=int, default=50, help="chat turns: the answer's tokens")


def _prompt(length: int) -> list[int]:
    # a fixed, varied token sequence (ids below 50256 so no stop token appears)
    return [(1000 + 7919 * i) % 50000 for i in range(length)]


def _turn_cost(steps: list[Any], answer_tokens: int) -> dict[str, Any]:
    """Calls, instructions and mainnet cycles of one chat turn's steps (icchat.gpt2_canister.ChatStep)."""
    calls: dict[str, int] = {}
    cycles = instructions = 0
    for step in steps:
        calls[step.method] = calls.get(step.method, 0) + 1
        instructions += step.reply["instructions"]
        if step.method != "generate_query":  # an update: charged; queries are free
            cycles += update_cycles(step.reply["instructions"], step.arg_bytes + len(step.method))
    per_1000 = cycles * 1000 // max(1, answer_tokens)
    return {
        "calls": calls,
        "updates": sum(n for m, n in calls.items() if m != "generate_query"),
        "queries": calls.get("generate_query", 0),
        "instructions": instructions,
        "instructions_per_answer_token": instructions // max(1, answer_tokens),
        "mainnet_cycles": cycles,
        "mainnet_cycles_per_1000_tokens": per_1000,
        "usd_per_1000_tokens": round(usd(per_1000), 6),
        "steps": [[s.method, len(s.reply["tokens"]), s.reply["fed"], s.reply["stop_reason"], s.reply["instructions"]]
                  for s in steps],
    }


def chat_turns(replica: Any, canister_id: Any, history_lengths: list[int], message_tokens: int,
               answer_tokens: int) -> dict[str, Any]:
    """One chat turn per history length and mode; both modes start from the same cached history."""
    from icchat.gpt2_canister import Gpt2Canister, answer
    from icchat.ic.principal import Principal

    turns: dict[str, Any] = {}
    for history_length in history_lengths:
        history = _prompt(history_length)
        message = [(777 + 4513 * i) % 50000 for i in range(message_tokens)]
        entry: dict[str, Any] = {}
        answers = {}
        for mode in ("verified", "fast"):  # one caller per mode, so neither finds the other's answer cached
            chat = Gpt2Canister(replica, canister_id, Principal.self_authenticating(b"bench %s %d" % (mode.encode(), history_length)))
            start = time.perf_counter()
            cold = list(chat.prefill_all(history))  # the turns before, as if this caller had chatted
            entry.setdefault("history_prefill", {
                "updates": len(cold), "instructions": sum(s.reply["instructions"] for s in cold),
                "mainnet_cycles": sum(update_cycles(s.reply["instructions"], s.arg_bytes + len(s.method)) for s in cold),
                "wall_s": round(time.perf_counter() - start, 2)})
            start = time.perf_counter()
            tokens, steps = answer(chat.chat(history + message, answer_tokens, mode=mode, stop=[]))
            entry[mode] = {**_turn_cost(steps, len(tokens)), "answer_tokens": len(tokens),
                           "wall_s": round(time.perf_counter() - start, 2)}
            answers[mode] = tokens
        entry["same_tokens"] = answers["verified"] == answers["fast"]
        turns[str(history_length)] = entry
        print(f"    history {history_length}: verified {entry['verified']['instructions'] / 1e9:.1f}B in "
              f"{entry['verified']['updates']} updates, fast {entry['fast']['instructions'] / 1e9:.1f}B in "
              f"{entry['fast']['queries']} queries + {entry['fast']['updates']} updates")
    return turns


def _measure(preset: str, dtype: str, new_tokens: int, prompt_lengths: list[int],
             turns: tuple[list[int], int, int] | None = None) -> dict[str, Any]:
    from icchat.build.gpt2 import build_gpt2_wasm
    from icchat.gpt2_canister import Gpt2Canister
    from icchat.ic.principal import Principal
    from icchat.model.seeded_weights import seeded_weight_file
    from icchat.replica import Reject, Replica

    weights = seeded_weight_file(preset, 0, dtype)
    with Replica() as replica:
        # a budget no measurement reaches (the defaults bound one principal to 100B a day)
        unbounded = {"window_instructions": 10**15, "caller_instructions": 10**15}
        canister = Gpt2Canister.install(replica, build_gpt2_wasm().read_bytes(), policy=unbounded)
        start = time.perf_counter()
        info = canister.upload(weights)
        upload_s = time.perf_counter() - start
        callers = iter(range(10**6))

        def newcomer() -> Gpt2Canister:
            """A principal that never called: its call computes the whole prompt (the prefix cache
            is per caller; the anonymous principal gets no update inference)."""
            return canister.as_caller(Principal.self_authenticating(b"bench newcomer %d" % next(callers)))

        start = time.perf_counter()
        newcomer().generate(_prompt(8), max_new_tokens=1, stop=[])
        prompt_only_s = time.perf_counter() - start
        start = time.perf_counter()
        reply = newcomer().generate(_prompt(8), max_new_tokens=new_tokens, stop=[])
        generate_s = time.perf_counter() - start
        per_token = reply["token_instructions"]
        prompts = {}
        for length in prompt_lengths:
            if length + 1 > info["n_ctx"]:
                continue
            start = time.perf_counter()
            try:
                pass_reply = newcomer().generate(_prompt(length), max_new_tokens=1, stop=[])
            except Reject as reject:
                prompts[str(length)] = {"fits_one_update": False, "reject": reject.message}
                continue
            if pass_reply["fed"] < length:  # over one update's 40B: it stopped at "budget" partway
                prompts[str(length)] = {"fits_one_update": False, "fed": pass_reply["fed"]}
                continue
            prompts[str(length)] = {
                "instructions": pass_reply["prompt_instructions"],
                "instructions_per_prompt_token": round(pass_reply["prompt_instructions"] / length),
                "fits_one_update": pass_reply["instructions"] <= UPDATE_INSTRUCTION_LIMIT,
                "wall_s": round(time.perf_counter() - start, 3),
            }
        chat = chat_turns(replica, canister.id, *turns) if turns else None
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
        **({"chat_turns": chat} if chat else {}),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    from icchat.model.source import PRESETS

    result: dict[str, Any] = {"cost_model": COST_MODEL, "model": {"preset": args.preset, "seed": 0, **PRESETS[args.preset]},
                              "new_tokens": args.new_tokens, "ic_prices": IC_PRICES,
                              "chat_turn": {"history": args.history, "message_tokens": args.message_tokens,
                                            "answer_tokens": args.answer_tokens}}
    turns = (args.history, args.message_tokens, args.answer_tokens) if args.history else None
    for dtype in args.dtypes:
        result[dtype] = _measure(args.preset, dtype, args.new_tokens, args.prompt_lengths, turns)
        print(f"  {dtype}: {result[dtype]['instructions_per_token']:,} instructions per token "
              f"(target {TARGETS[dtype]:,})")
    result["notes"] = ("instructions_per_token: median over generated tokens after an 8-token prompt; each is one "
                       "forward pass of one token with the KV cache plus sampling (greedy), measured inside the canister "
                       "with ic0.performance_counter; replica_wall_ms_per_token: (generate of new_tokens - generate of 1) / "
                       "(new_tokens - 1), whole update calls on this machine's wasmtime, not the IC's; chat_turns: a "
                       "message of message_tokens and an answer of answer_tokens (greedy) after `history` tokens the "
                       "caller's prefix cache holds (history_prefill: what feeding that history costs when it is not "
                       "cached); verified = generate updates continued at each budget stop, fast = a prefill update of "
                       "the message, then generate_query queries with a prefill update after each query that stopped "
                       "at its budget; mainnet cycles = per update: ingress reception + bytes + execution base fee + "
                       "1 cycle per instruction (ic_prices); queries are free; steps: [method, tokens, prompt tokens "
                       "fed, stop_reason, instructions]")
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
