"""The "onchain_abuse" section of bench/results/reliability.json: what an attacker can make the
gpt2 canister's owner pay (issue 23).

    icchat bench reliability --section onchain_abuse

- worst case per day with the default policy (the canister installed with no argument, as
  `dfx deploy` does), from the IC cost table (icchat.ic.prices):
      cycles/day = windows/day x (window_instructions x cycles per instruction
                                  + accepted calls per window x fees of one call)
      accepted calls per window = window_instructions / the cheapest accepted call's instructions
      fees of one call = ingress reception + its bytes + update execution
        (the cheapest call's signed request size: the smallest `generate` of the hammering run)
  (refusals in execution are not in it: see `executed_refusals_note`);
- the instructions of each kind of refusal when it runs in execution (as a message that got past
  canister_inspect_message would; refused there it costs nothing);
- a bounded hammering run (icchat.bench._onchain_abuse): calls made, refused before and in
  execution, cycles spent against the bound;
- the fair cache's other side: how few principals and cycles keep newcomers' prefills "busy".
"""

from __future__ import annotations

import argparse
from typing import Any

from icchat.bench import _onchain_abuse as abuse
from icchat.gpt2_canister import Gpt2Canister
from icchat.ic import candid, prices
from icchat.ic.principal import Principal

STRANGER = Principal.self_authenticating(b"onchain abuse bench: a stranger")
PROMPT = abuse.CONVERSATION[:16]


def _generate_arg(prompt: list[int], max_new_tokens: int) -> bytes:
    return candid.encode(abuse._types("(GenerateRequest)"), [{"prompt": prompt, "max_new_tokens": max_new_tokens,
                                                              "stop": []}])


def _refusal(target: abuse.OnchainTarget, what: str, method: str, arg: bytes, sender: Principal) -> dict[str, Any]:
    instructions, response = abuse.executed_instructions(target, method, arg, sender)
    kind, value = response if response else ("none", "")
    if kind != "reject":
        raise RuntimeError(f"{what}: expected a refusal, got {kind}")
    return {"refusal": what, "method": method, "arg_bytes": len(arg), "instructions": instructions,
            "cycles": prices.update_execution_cycles(instructions), "line": value}


def refusal_costs(target: abuse.OnchainTarget) -> list[dict[str, Any]]:
    """Each kind of refusal, run in execution on a canister with the tiny model."""
    store = candid.encode(candid.parse_types(
        "(record { key: text; content_type: text; content_encoding: text; content: blob; sha256: opt blob })"),
        [{"key": "/index.html", "content_type": "text/html", "content_encoding": "identity",
          "content": bytes(2 * 1024 * 1024 - 4096), "sha256": None}])
    rows = [
        _refusal(target, "generate from the anonymous principal (before decoding)", "generate",
                 _generate_arg(PROMPT, 8), Principal.anonymous()),
        _refusal(target, "generate_query called as an update", "generate_query", _generate_arg(PROMPT, 8), STRANGER),
        _refusal(target, "logits called as an update", "logits",
                 candid.encode(candid.parse_types("(vec nat32)"), [PROMPT]), STRANGER),
        _refusal(target, "asset write from a stranger: create_batch", "create_batch",
                 candid.encode(candid.parse_types("(record {})"), [{}]), STRANGER),
        _refusal(target, "asset write from a stranger: store, a 2 MB argument", "store", store, STRANGER),
    ]
    usage = target.usage()
    # not allow-listed
    target.set_policy(access="allow_list")
    rows.append(_refusal(target, "generate from a principal not on the allow-list", "generate",
                         _generate_arg(PROMPT, 8), STRANGER))
    # per-caller quota: a caller spends part of its share; what is left covers one token but not
    # the prompt (found once the prompt is decoded), then nothing is left (refused before decoding)
    target.set_policy(access="open", caller_instructions=20_000_000)
    spender = Principal.self_authenticating(b"onchain abuse bench: spends its share")
    abuse.executed_instructions(target, "generate", _generate_arg(PROMPT, 8), spender)
    rows.append(_refusal(target, "generate refused by the per-caller quota after decoding (what is left covers a "
                                 "token, not the prompt)", "generate", _generate_arg(PROMPT, 8), spender))
    target.set_policy(caller_instructions=1_000_000)
    rows.append(_refusal(target, "generate refused by the per-caller quota (before decoding)", "generate",
                         _generate_arg(PROMPT, 8), spender))
    # the window's budget
    spent = target.usage()["window_spent"]
    target.set_policy(caller_instructions=usage["caller_instructions"], window_instructions=spent)
    rows.append(_refusal(target, "generate refused by the spent window budget", "generate",
                         _generate_arg(PROMPT, 8), STRANGER))
    target.set_policy(window_instructions=usage["window_instructions"])
    return rows


def cheapest_accepted_call(target: abuse.OnchainTarget) -> dict[str, Any]:
    """The fewest instructions an accepted inference update can cost: a one-token prompt the caller
    already has cached, generating nothing (and, for comparison, one new token)."""
    caller = Principal.self_authenticating(b"onchain abuse bench: a cheap caller")
    abuse.executed_instructions(target, "prefill", candid.encode(abuse._types("(PrefillRequest)"), [{"prompt": [464]}]),
                                caller)
    candidates = []
    for what, arg in (("generate of a cached one-token prompt, max_new_tokens 0", _generate_arg([464], 0)),
                      ("generate of a cached one-token prompt, one new token", _generate_arg([464], 1))):
        instructions, response = abuse.executed_instructions(target, "generate", arg, caller)
        if response and response[0] == "reply":
            candidates.append({"call": what, "instructions": instructions, "arg_bytes": len(arg)})
    return min(candidates, key=lambda c: c["instructions"])


def cache_lockout(target: abuse.OnchainTarget, call_bytes: int) -> dict[str, Any]:
    """The other side of the fair cache: principals with 4 conversations each fill every slot,
    and a newcomer's prefill is then told "busy" until they are 10 minutes old."""
    slots = Gpt2Canister(target.replica, target.canister_id, target.controller.principal).model_info()["cache_slots"]
    prefill = abuse._types("(PrefillRequest)")
    instructions = calls = 0
    for a in range(slots // 4):
        holder = Principal.self_authenticating(b"onchain abuse bench: holds 4 conversations %d" % a)
        for k in range(4):
            used, _ = abuse.executed_instructions(target, "prefill", candid.encode(prefill, [{"prompt": [100 + 4 * a + k, 7]}]),
                                                  holder)
            instructions, calls = instructions + used, calls + 1
    newcomer = Principal.self_authenticating(b"onchain abuse bench: a newcomer")
    _, response = abuse.executed_instructions(target, "prefill", candid.encode(prefill, [{"prompt": [5, 6, 7]}]), newcomer)
    cycles = prices.instructions_cycles(instructions) + calls * (prices.ingress_induction_cycles(call_bytes)
                                                                 + prices.update_execution_cycles(0))
    return {"principals": slots // 4, "prefills": calls, "instructions": instructions, "cycles": cycles,
            "newcomer_prefill": response[1] if response and response[0] == "reject" else "answered"}


def worst_case_per_day(usage: dict[str, Any], cheapest: dict[str, Any], call_bytes: int) -> dict[str, Any]:
    """`call_bytes`: the size of one signed call of the cheapest kind (as the JS agent sends it)."""
    windows_per_day = 86_400 / usage["window_seconds"]
    budget = prices.instructions_cycles(usage["window_instructions"])
    calls = usage["window_instructions"] // max(1, cheapest["instructions"])
    fees = prices.ingress_induction_cycles(call_bytes) + prices.update_execution_cycles(0)
    total = windows_per_day * (budget + calls * fees)
    return {
        "formula": "windows/day x (window_instructions x cycles/instruction + (window_instructions / cheapest "
                   "accepted call's instructions) x (ingress reception + bytes + update execution fees))",
        "windows_per_day": windows_per_day, "window_instructions": usage["window_instructions"],
        "signed_call_bytes": call_bytes,
        "cheapest_accepted_call": cheapest, "accepted_calls_per_window": calls, "fees_per_call_cycles": fees,
        "budget_cycles_per_day": round(windows_per_day * budget), "fees_cycles_per_day": round(windows_per_day * calls * fees),
        "cycles_per_day": round(total), "usd_per_day": round(prices.usd(total), 2),
    }


EXECUTED_REFUSALS_NOTE = (
    "Not in the policy's bound: messages that reach execution and are refused there pay the ingress and "
    "execution fees, about {fee:,} cycles each, outside window_instructions (their instructions count in "
    "window_spent); canister_inspect_message drops most refusals before execution, but not those it cannot "
    "foresee (\"busy\": every cache slot protected) nor calls that get past it (it runs on one node), so their "
    "number per day is bounded by the subnet's throughput, not by the policy.")


def run_section(args: argparse.Namespace | None = None) -> dict[str, Any]:
    with abuse.OnchainTarget.start(abuse.POLICY) as target:
        campaign = abuse.run_campaign(target)
    call_bytes = min(c["ingress_bytes"] for c in abuse.executed(campaign.hammer.calls) if c["method"] == "generate")
    with abuse.OnchainTarget.start(None) as target:
        defaults = target.usage()
        cheapest = cheapest_accepted_call(target)
        refusals = refusal_costs(target)
        lockout = cache_lockout(target, call_bytes)
    fee = prices.ingress_induction_cycles(call_bytes) + prices.update_execution_cycles(0)
    return {
        "default_policy": {k: defaults[k] for k in ("window_seconds", "window_instructions", "caller_instructions")}
                          | {"access": defaults["access"]},
        "worst_case_per_day": worst_case_per_day(defaults, cheapest, call_bytes),
        "refusal_instructions": refusals,
        "executed_refusals_note": EXECUTED_REFUSALS_NOTE.format(fee=fee),
        "cache_lockout": lockout,
        "hammer": {
            "policy": abuse.POLICY,
            "allow_list_phase": campaign.allow_list.summary(),
            "budget_phase": campaign.hammer.summary(),
            "victim_conversation_tokens": len(abuse.CONVERSATION),
            "victim_reused_after_flood": (campaign.victim_after_flood.get("reply") or {}).get("reused"),
            "victim_reused_after_hammer": (campaign.victim_after_hammer.get("reply") or {}).get("reused"),
            "flood_prefills": len(campaign.flood),
            "seconds": round(campaign.seconds, 1),
        },
    }


BOUNDS = {"cycle_bound": "budget left + one call's overshoot + fees of the executed messages + idle burn",
          "spent_bound": "instructions the canister counted + fees of the executed messages + idle burn: strangers free"}


def markdown(section: dict[str, Any]) -> list[str]:
    """The section as BENCHMARKS.md lines."""
    worst, hammer = section["worst_case_per_day"], section["hammer"]
    policy = section["default_policy"]
    lines = ["### Onchain abuse", "",
             f"Default policy (install with no argument): access {policy['access']}, "
             f"{policy['window_instructions'] / 1e9:,.0f}B instructions per {policy['window_seconds']:,} s window, "
             f"{policy['caller_instructions'] / 1e9:,.0f}B per principal.", "",
             f"Worst case per day under attack with it: **{worst['cycles_per_day'] / 1e12:,.2f}T cycles** "
             f"(${worst['usd_per_day']:,.2f}) = {worst['formula']} = {worst['windows_per_day']:g} x "
             f"({worst['window_instructions']:,} + {worst['accepted_calls_per_window']:,} x {worst['fees_per_call_cycles']:,}); "
             f"cheapest accepted call: {worst['cheapest_accepted_call']['call']}, "
             f"{worst['cheapest_accepted_call']['instructions']:,} instructions.", "",
             section.get("executed_refusals_note", ""), "",
             "| refusal (run in execution; refused by canister_inspect_message it is free) | instructions | cycles |",
             "|---|---|---|"]
    lines += [f"| {r['refusal']} | {r['instructions']:,} | {r['cycles']:,} |" for r in section["refusal_instructions"]]
    lines += [""]
    for name, title, bound in (("allow_list_phase", "allow-list, strangers hammering while an allowed principal chats",
                                "spent_bound"), ("budget_phase", "open, until the budget is spent", "cycle_bound")):
        p = hammer[name]
        lines.append(f"- Hammering ({title}): {p['calls']} calls, {p['replied']} answered, "
                     f"{p['refused_before_execution']} refused before execution, {p['refused_in_execution']} in execution "
                     f"({', '.join(f'{k}: {v}' for k, v in p.get('refusals_in_execution_by_reason', {}).items()) or '-'}); "
                     f"{p['cycles_spent']:,} cycles spent, bound {p[bound]:,} ({BOUNDS[bound]}).")
    lines += [f"- The victim's cached conversation ({hammer['victim_conversation_tokens']} tokens) after "
              f"{hammer['flood_prefills']} prefills of fresh principals: {hammer['victim_reused_after_flood']} reused; "
              f"after the hammering: {hammer['victim_reused_after_hammer']}."]
    if lock := section.get("cache_lockout"):
        lines.append(f"- The other side of the fair cache: {lock['principals']} principals x 4 two-token prefills "
                     f"({lock['cycles']:,} cycles) fill every slot for 10 minutes; a newcomer's prefill then gets: "
                     f"\"{lock['newcomer_prefill']}\" (its `generate` still runs, without a cache slot).")
    return [*lines, ""]
