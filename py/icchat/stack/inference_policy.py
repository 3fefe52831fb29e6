"""The gpt2 canister's inference policy, from the host: the install argument, the worst case it
allows an owner to pay, and reading or changing it on a running canister.

    policy = InferencePolicy(access="allow_list", window_instructions=500 * B)
    install_arg(policy)                       # Candid `(opt InferencePolicy)` for install/upgrade
    worst_case(DEFAULTS).cycles_per_day       # what the defaults can cost at most, under attack
    read_usage(agent, gpt2_id)                # the canister's public `usage` query

Types come from canister/gpt2.did (`InferencePolicy`, `Usage`), so the host and the canister
cannot disagree on the wire. The canister counts, per fixed window of `window_seconds`, every
inference update's instructions plus the IC's base fees of its message (in cycles on a 13-node
subnet: 1 cycle per instruction), and refuses before any work once `window_instructions` are
spent: so what onchain inference costs the owner is bounded by the window budget, whoever calls.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from icchat.ic import candid, prices
from icchat.ic.principal import Principal

B = 1_000_000_000
DAY_S = 86_400


@dataclass(frozen=True)
class InferencePolicy:
    """canister/gpt2.did `InferencePolicy`: None leaves a field as it is (at install: its default)."""

    access: str | None = None              # open | allow_list | controllers
    window_seconds: int | None = None
    window_instructions: int | None = None  # all callers together, per window
    caller_instructions: int | None = None  # one principal, per window

    def over(self, base: InferencePolicy) -> InferencePolicy:
        """`base` with the fields this policy names replaced (what an upgrade argument does)."""
        return replace(base, **{k: v for k, v in asdict(self).items() if v is not None})

    @property
    def empty(self) -> bool:
        return all(v is None for v in asdict(self).values())


# The canister's own defaults (canister/access/policy.h): what `dfx deploy` without an argument gets.
DEFAULTS = InferencePolicy(access="open", window_seconds=DAY_S, window_instructions=1_000 * B,
                           caller_instructions=100 * B)


@dataclass(frozen=True)
class WorstCase:
    """The most a policy lets inference cost the owner (cycles on a 13-node subnet)."""

    per_window: int
    windows_per_day: float
    cycles_per_day: int          # per UTC day, windows aligned to the epoch
    cycles_any_24h: int          # in any 24 hours: the end of one window and the start of the next

    def describe(self) -> str:
        return (f"at most {self.cycles_per_day / 1e12:.3f} T cycles a day on onchain inference "
                f"(${prices.usd(self.cycles_per_day):.2f}; {self.cycles_any_24h / 1e12:.3f} T in any 24 hours), "
                f"whoever calls")


def worst_case(policy: InferencePolicy) -> WorstCase:
    """The bound the canister enforces: its budget counts instructions and message fees alike
    (fees as the instructions that cost as much), and a call stops before the budget by at most
    one token."""
    full = policy.over(DEFAULTS)
    assert full.window_seconds and full.window_instructions is not None
    per_window = prices.instructions_cycles(full.window_instructions)
    per_day = DAY_S / full.window_seconds
    windows_in_24h = -(-DAY_S // full.window_seconds) + 1  # a 24-hour span overlaps at most this many
    return WorstCase(per_window, per_day, round(per_window * per_day), per_window * windows_in_24h)


# --- the wire ------------------------------------------------------------------------------------


def _did() -> Any:
    from icchat.gpt2_canister import DID

    return DID


def _named(policy: InferencePolicy) -> dict[str, Any]:
    return {k: v for k, v in asdict(policy).items() if v is not None}


def install_arg(policy: InferencePolicy | None) -> bytes:
    """The install/upgrade argument `(opt InferencePolicy)`; None (or nothing named): `null`, which
    at install means the defaults and at upgrade keeps the running policy."""
    from icchat import gpt2_canister

    return gpt2_canister.install_arg(None if policy is None or policy.empty else _named(policy))


def arg_for(mode: str, policy: InferencePolicy) -> bytes:
    """The argument an install (every field spelled out: what the owner gets is written down in
    the deploy, not implied) or an upgrade (only what `policy` names; the rest stays) sends."""
    return install_arg(policy.over(DEFAULTS) if mode in ("install", "reinstall") else policy)


def read_usage(agent: Any, canister: Principal) -> dict[str, Any]:
    """The canister's `usage` query (public): policy, window, what is spent."""
    reply = agent.query(canister, "usage", candid.encode([], []))
    usage = candid.decode(reply, candid.parse_types("(Usage)", _did()))[0]
    usage["access"] = next(iter(usage["access"]))
    return usage


def set_policy(agent: Any, canister: Principal, policy: InferencePolicy) -> None:
    """`set_inference_policy` (controllers only): change the fields `policy` names."""
    from icchat.gpt2_canister import policy_record

    arg = candid.encode(candid.parse_types("(InferencePolicy)", _did()), [policy_record(_named(policy))])
    agent.update(canister, "set_inference_policy", arg)


def change_allow_list(agent: Any, canister: Principal, principals: Sequence[Principal], *, allow: bool) -> None:
    """`allow_inference` / `disallow_inference` (controllers only)."""
    arg = candid.encode(candid.parse_types("(vec principal)"), [list(principals)])
    agent.update(canister, "allow_inference" if allow else "disallow_inference", arg)


def describe_usage(usage: dict[str, Any]) -> list[str]:
    """A few lines for a person: who may call, the bound, what is spent and when it refills."""
    import datetime

    from icchat.stack import costs

    def at(ns: int) -> str:
        return datetime.datetime.fromtimestamp(ns / 1e9, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")

    spent, budget = usage["window_spent"], usage["window_instructions"]
    return [
        f"access         {usage['access']}" + (f" ({usage['allowed']} principals allowed)" if usage["access"] == "allow_list" else ""),
        f"window         {usage['window_seconds']:,} s, {at(usage['window_start'])} to {at(usage['window_end'])}",
        f"spent          {spent / B:,.1f}B of {budget / B:,.1f}B instructions ({100 * spent / budget if budget else 100:.1f} %), "
        f"by {usage['callers']} callers; {usage['refused']} calls refused",
        f"per caller     {usage['caller_instructions'] / B:,.1f}B instructions a window (you: {usage['caller_spent'] / B:,.1f}B)",
        f"since install  {usage['spent_total'] / B:,.1f}B instructions ({costs.describe(prices.instructions_cycles(usage['spent_total']))})",
        f"worst case     {worst_case(policy_of(usage)).describe()}",
    ]


def policy_of(usage: dict[str, Any]) -> InferencePolicy:
    return InferencePolicy(usage["access"], usage["window_seconds"], usage["window_instructions"],
                           usage["caller_instructions"])


# --- the command line ----------------------------------------------------------------------------

_SUFFIX = {"": 1, "k": 10**3, "m": 10**6, "b": B, "g": B, "t": 10**12}


def parse_amount(text: str) -> int:
    """An instruction count: 1000000000, 1_000_000_000, 1e9, 500M, 1B, 1T (cycles on a 13-node subnet)."""
    m = re.fullmatch(r"\s*([0-9][0-9_]*(?:\.[0-9]+)?(?:e[0-9]+)?)\s*([kmbgt]?)\s*", text.lower())
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not an instruction count (e.g. 500B, 1T, 2e12)")
    return round(float(m.group(1).replace("_", "")) * _SUFFIX[m.group(2)])


def add_arguments(parser: argparse.ArgumentParser, *, what: str) -> None:
    """--access/--budget/--caller-budget/--window: `what` says when they apply."""
    d = DEFAULTS
    from icchat.gpt2_canister import ACCESS

    parser.add_argument("--access", choices=[a.replace("_", "-") for a in ACCESS],
                        help=f"{what}: who may run onchain inference (default {d.access})")
    parser.add_argument("--budget", type=parse_amount, metavar="INSTRUCTIONS",
                        help=f"{what}: instructions (= cycles) all callers may use per window "
                             f"(default {d.window_instructions / 10**12:g}T)")
    parser.add_argument("--caller-budget", type=parse_amount, metavar="INSTRUCTIONS",
                        help=f"{what}: instructions one principal may use per window (default "
                             f"{(d.caller_instructions or 0) / B:g}B)")
    parser.add_argument("--window", type=int, metavar="SECONDS",
                        help=f"{what}: the budget window (default {d.window_seconds} s, 60 to 2592000)")


def from_arguments(args: argparse.Namespace) -> InferencePolicy:
    access = args.access.replace("-", "_") if args.access else None
    return InferencePolicy(access, args.window, args.budget, args.caller_budget)
