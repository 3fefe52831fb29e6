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


ENVELOPE_BYTES = 300  # a signed Ed25519 call's bytes besides argument and method name (measured: ~290)


def _refusal(target: abuse.OnchainTarget, what: str, method: str, arg: bytes, sender: Principal) -> dict[str, Any]:
    """One refusal run in execution: its instructions, and what the owner pays when such a
    message reaches execution (its induction, with an Ed25519 call's envelope, + execution)."""
    instructions, response = abuse.executed_instructions(target, method, arg, sender)
    kind, value = response if response else ("none", "")
    if kind != "reject":
        raise RuntimeError(f"{what}: expected a refusal, got {kind}")
    ingress = len(arg) + len(method) + ENVELOPE_BYTES
    return {"refusal": what, "method": method, "arg_bytes": len(arg), "instructions": instructions,
            "cycles": prices.update_cycles(instructions, ingress),
            "line": value}


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
    # per-caller quota: a caller spends some instructions, then its share is set below them
    target.set_policy(access="open")
    spender = Principal.self_authenticating(b"onchain abuse bench: spends its share")
    abuse.executed_instructions(target, "generate", _generate_arg(PROMPT, 8), spender)
    target.set_policy(caller_instructions=1_000_000)
    rows.append(_refusal(target, "generate refused by the per-caller quota", "generate", _generate_arg(PROMPT, 8),
                         spender))
    # the window's budget
    spent = target.usage()["window_spent"]
    target.set_policy(caller_instructions=usage["caller_instructions"], window_instructions=spent)
    rows.append(_refusal(target, "generate refused by the spent window budget", "generate",
                         _generate_arg(PROMPT, 8), STRANGER))
    target.set_policy(window_instructions=usage["window_instructions"])
    return rows


def cheapest_accepted_call(target: abuse.OnchainTarget) -> dict[str, Any]:
    """The accepted inference update that takes the least of the budget: a one-token prompt the
    caller already has cached, generating nothing (and, for comparison, one new token). `counted`:
    what the canister charged to window_spent for it (instructions + the fees it counts)."""
    caller = Principal.self_authenticating(b"onchain abuse bench: a cheap caller")
    abuse.executed_instructions(target, "prefill", candid.encode(abuse._types("(PrefillRequest)"), [{"prompt": [464]}]),
                                caller)
    candidates = []
    for what, arg in (("generate of a cached one-token prompt, max_new_tokens 0", _generate_arg([464], 0)),
                      ("generate of a cached one-token prompt, one new token", _generate_arg([464], 1))):
        before = target.usage()["window_spent"]
        instructions, response = abuse.executed_instructions(target, "generate", arg, caller)
        if response and response[0] == "reply":
            candidates.append({"call": what, "instructions": instructions, "arg_bytes": len(arg),
                               "counted": target.usage()["window_spent"] - before})
    return min(candidates, key=lambda c: c["counted"])


def cache_lockout(target: abuse.OnchainTarget, envelope_bytes: int) -> dict[str, Any]:
    """The other side of the fair cache. Only a principal's latest conversation is protected, so
    principals with 4 conversations each no longer hold every slot: a newcomer's prefill is
    answered. One recent conversation per slot, from as many principals, does hold them all: the
    next newcomer's prefill is then told "busy" until they are 10 minutes old."""
    slots = Gpt2Canister(target.replica, target.canister_id, target.controller.principal).model_info()["cache_slots"]
    prefill = abuse._types("(PrefillRequest)")
    costs: list[int] = []

    def prefill_as(name: bytes, prompt: list[int]) -> tuple[str, str]:
        arg = candid.encode(prefill, [{"prompt": prompt}])
        used, response = abuse.executed_instructions(target, "prefill", arg, Principal.self_authenticating(name))
        costs.append(prices.update_cycles(used, len(arg) + len("prefill") + envelope_bytes))
        return response if response else ("reject", "no response")

    for a in range(slots // 4):
        for k in range(4):
            prefill_as(b"onchain abuse bench: holds 4 conversations %d" % a, [100 + 4 * a + k, 7])
    after_four_each = prefill_as(b"onchain abuse bench: a newcomer", [5, 6, 7])
    principals = slots // 4 + 1  # each holds its latest conversation now
    while principals < slots:
        prefill_as(b"onchain abuse bench: one conversation %d" % principals, [200 + principals, 7])
        principals += 1
    latecomer = prefill_as(b"onchain abuse bench: a latecomer", [8, 9, 10])
    return {"four_each_principals": slots // 4, "newcomer_after_four_each": "answered" if after_four_each[0] == "reply"
            else after_four_each[1], "lockout_principals": slots, "lockout_cycles": round(slots * sum(costs) / len(costs)),
            "latecomer_prefill": "answered" if latecomer[0] == "reply" else latecomer[1]}


def worst_case_per_day(usage: dict[str, Any], cheapest: dict[str, Any], envelope_bytes: int) -> dict[str, Any]:
    """The most cycles a day an attacker can take with this policy: the budget admits at most
    window_instructions / (what the canister counts for the cheapest accepted call) calls per
    window; each costs the owner its instructions and the IC's fees for its whole signed request
    (`envelope_bytes` beyond argument and method name, which the canister cannot see)."""
    windows_per_day = 86_400 / usage["window_seconds"]
    calls = usage["window_instructions"] // max(1, cheapest["counted"]) + 1
    per_call = prices.update_cycles(cheapest["instructions"], cheapest["arg_bytes"] + len("generate") + envelope_bytes)
    total = windows_per_day * calls * per_call
    return {
        "formula": "windows/day x accepted calls per window x what one costs the owner; accepted calls per window = "
                   "window_instructions / what the canister counts for the cheapest accepted call (its instructions + "
                   "5M + 1.2M + 2,000 per byte of argument, method name and a 1,024-byte envelope allowance + 10K) "
                   "+ 1; what one costs = its instructions + 5M + 1.2M + 2,000 per byte of the whole signed request",
        "windows_per_day": windows_per_day, "window_instructions": usage["window_instructions"],
        "envelope_bytes": envelope_bytes, "cheapest_accepted_call": cheapest, "accepted_calls_per_window": calls,
        "cycles_per_call": per_call, "cycles_per_day": round(total), "usd_per_day": round(prices.usd(total), 2),
        "times_the_budget": round(total / (windows_per_day * prices.instructions_cycles(usage["window_instructions"])), 3),
    }


EXECUTED_REFUSALS_NOTE = (
    "The canister counts each inference update's fixed fees in window_spent, refusals included, so while the "
    "budget lasts refusals of generate and prefill in execution are inside it. Outside it: such refusals once the "
    "budget is spent, and refusals of other methods (asset writes, queries called as updates), whenever they reach "
    "execution; canister_inspect_message drops them before (free), but it runs on one node and is not a security "
    "boundary, so a message that gets past it costs the owner the fees in the table (about {fee:,} cycles for a "
    "small one, {big:,} for a 2 MB one).")


def run_section(args: argparse.Namespace | None = None) -> dict[str, Any]:
    with abuse.OnchainTarget.start(abuse.POLICY) as target:
        campaign = abuse.run_campaign(target)
    sent = [c for c in campaign.all_calls() if c.get("ingress_bytes")]
    envelope = max(c["ingress_bytes"] - c["arg_bytes"] - len(c["method"]) for c in sent)
    with abuse.OnchainTarget.start(None) as target:
        defaults = target.usage()
        cheapest = cheapest_accepted_call(target)
        refusals = refusal_costs(target)
        lockout = cache_lockout(target, envelope)
    return {
        "default_policy": {k: defaults[k] for k in ("window_seconds", "window_instructions", "caller_instructions")}
                          | {"access": defaults["access"]},
        "worst_case_per_day": worst_case_per_day(defaults, cheapest, envelope),
        "refusal_instructions": refusals,
        "executed_refusals_note": EXECUTED_REFUSALS_NOTE.format(fee=min(r["cycles"] for r in refusals),
                                                                big=max(r["cycles"] for r in refusals)),
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


BOUNDS = {"cycle_bound": "budget left + one call's overshoot + the fees the canister cannot count + idle burn",
          "spent_bound": "what the canister counted + the fees it cannot count + idle burn: strangers free"}


def markdown(section: dict[str, Any]) -> list[str]:
    """The section as BENCHMARKS.md lines."""
    worst, hammer = section["worst_case_per_day"], section["hammer"]
    policy = section["default_policy"]
    lines = ["### Onchain abuse", "",
             f"Default policy (install with no argument): access {policy['access']}, "
             f"{policy['window_instructions'] / 1e9:,.0f}B instructions per {policy['window_seconds']:,} s window, "
             f"{policy['caller_instructions'] / 1e9:,.0f}B per principal.", "",
             f"Worst case per day under attack with it: **{worst['cycles_per_day'] / 1e12:,.3f}T cycles** "
             f"(${worst['usd_per_day']:,.2f}, {worst['times_the_budget']}x the budget) = {worst['formula']} = "
             f"{worst['windows_per_day']:g} x {worst['accepted_calls_per_window']:,} x {worst['cycles_per_call']:,}; "
             f"cheapest accepted call: {worst['cheapest_accepted_call']['call']}, "
             f"{worst['cheapest_accepted_call']['instructions']:,} instructions, counted "
             f"{worst['cheapest_accepted_call']['counted']:,}; the signed request's bytes the canister cannot see: "
             f"{worst['envelope_bytes']} (Ed25519 identity, measured; it counts 1,024).", "",
             section.get("executed_refusals_note", ""), "",
             "| refusal, if it reaches execution (refused by canister_inspect_message it is free) | instructions | "
             "cycles (ingress + execution) |",
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
        lines.append(f"- The other side of the fair cache: after {lock['four_each_principals']} principals x 4 two-token "
                     f"prefills a newcomer's prefill is {lock['newcomer_after_four_each']} (only each principal's latest "
                     f"conversation is protected); {lock['lockout_principals']} principals with one conversation each "
                     f"(about {lock['lockout_cycles']:,} cycles, inside the budget) hold every slot for 10 minutes, and "
                     f"the next newcomer's prefill gets: \"{lock['latecomer_prefill']}\" (its `generate` still runs, "
                     f"without a cache slot).")
    return [*lines, ""]
