"""An attack on the gpt2 canister's cycles and prefix cache, played on the local replica through
its real HTTP interface with the official JS agent, and the bounds it must stay within (SPEC §5
of issue 23). `icchat bench reliability --section onchain_abuse` reports its figures (cycles spent
against the bound, what each refusal costs); `tests/hostile/test_onchain_abuse.py` asserts that the
bounds hold.

    with OnchainTarget.start(POLICY) as target:
        campaign = run_campaign(target)      # allow-list, cache and budget phases (<= 60 s of calls)
        campaign.hammer.cycles_spent <= campaign.hammer.cycle_bound()

The attacker is _onchain_abuse.mjs (beside this module): fresh Ed25519 identities (one per call) and the
anonymous principal calling `generate`, `prefill`, `generate_query` and `logits` as updates,
arguments just under the 2 MiB ingress limit, asset-store writes and controller-only methods.
Every call is classified by what the agent saw: replied, rejected (a certified reject: it reached
execution and was charged) or refused (not certified: dropped before execution, free).

The cycle bound of a stretch of calls (`cycle_bound`), with prices from icchat.ic.prices:

    budget left in the window (window_instructions - window_spent at the start; a full
      window_instructions for every further window the stretch enters)
    + one call's overshoot (the largest one-token step seen, plus each refusal that ran in
      execution after the budget was spent: refusals are counted in window_spent too)
    + for every message that reached execution, what the IC charges beyond what the canister
      counts in window_spent: the canister counts an inference update's instructions and its
      fixed fees (5M execution + 1.2M reception + 2,000 per byte of argument and method name)
      but cannot see the signed request's other bytes (sender key, signature, expiry: ~300
      bytes for an Ed25519 identity) nor the instructions after its last counter read
      (MESSAGE_TAIL); other methods' messages count nothing, so all their fees are added
    + the idle burn (canister_status idle_cycles_burned_per_day x the stretch's length and one
      10 s storage charge interval)
    + one canister_status call (reading the balance at the end is itself charged to the canister)
  all x cycles per instruction where it is instructions.
"""

from __future__ import annotations

import json
import math
import subprocess
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from icchat.build.gpt2 import build_gpt2_wasm
from icchat.gpt2_canister import DID, Gpt2Canister, inference_overhead, install_arg
from icchat.ic import candid, management, prices
from icchat.ic.agent import Agent
from icchat.ic.identity import Ed25519Identity
from icchat.ic.principal import Principal
from icchat.ic.reject import canister_line
from icchat.model.seeded_weights import seeded_weight_file
from icchat.paths import REPO
from icchat.replica import Replica
from icchat.replica.cycles import ALLOCATION_CHARGE_INTERVAL_NS
from icchat.replica.http import HttpServer
from icchat.stack import inference_policy

SCRIPT = Path(__file__).with_suffix(".mjs")
CYCLES = 20 * 10**12  # the canister's starting balance
# A small policy, so the budget really runs out within the run: ~50 tiny-model generate calls.
POLICY = {"access": "open", "window_seconds": 3600, "window_instructions": 3_000_000_000,
          "caller_instructions": 1_000_000_000}
# Instructions a message runs after the canister last reads its counter (for window_spent) and
# the replica stops metering: measured 3,566 after a reply of any length, 2,474 after a refusal.
MESSAGE_TAIL = 10_000
VICTIM_SEED = bytes(range(32))
FRIEND_SEED = bytes(range(32, 64))
CONVERSATION = [(1000 + 7919 * i) % 50000 for i in range(40)]  # the victim's cached conversation
# What the attacker sends (kinds of _onchain_abuse.mjs).
ATTACKS = ["generate", "prefill", "generate_query_update", "generate", "logits_update", "prefill", "create_batch",
           "generate", "generate_oversized", "store_oversized", "prefill", "commit_batch", "generate", "prefill_oversized",
           "create_chunk", "clear", "authorize", "set_inference_policy", "allow_inference"]
ATTACK_PARAMS = {"prompt_length": 48, "max_new_tokens": 48}
INFERENCE_METHODS = ("generate", "prefill")  # the updates the policy budgets


def _types(text: str) -> list[Any]:
    return candid.parse_types(text, DID)


@dataclass
class OnchainTarget:
    """A replica serving the IC HTTP interface and a gpt2 canister (tiny seeded model) installed
    with a policy, controlled by `controller` through `agent` (the Python agent, over HTTP)."""

    replica: Replica
    server: HttpServer
    controller: Ed25519Identity
    agent: Agent
    canister_id: Principal

    @classmethod
    @contextmanager
    def start(cls, policy: dict[str, Any] | None, cycles: int = CYCLES) -> Iterator[OnchainTarget]:
        """`policy`: InferencePolicy fields (access by name); None: installed with no argument at
        all (as `dfx deploy` without --argument)."""
        with Replica() as replica, HttpServer(replica, port=0) as server:
            controller = Ed25519Identity.from_seed(b"onchain abuse: the canister's owner".ljust(32, b".")[:32])
            agent = Agent(server.url, controller)
            agent.fetch_root_key()
            canister_id = management.create_canister(agent, controllers=[controller.principal], cycles=cycles)
            arg = b"" if policy is None else install_arg(policy)
            management.install_code(agent, canister_id, build_gpt2_wasm().read_bytes(), arg=arg)
            Gpt2Canister(replica, canister_id, controller.principal).upload(seeded_weight_file("tiny", 0, "q8"))
            yield cls(replica, server, controller, agent, canister_id)

    # --- the controller's view ---------------------------------------------------------------------------

    def usage(self) -> dict[str, Any]:
        """The canister's `usage` query (access by name)."""
        return inference_policy.read_usage(self.agent, self.canister_id)

    def set_policy(self, **fields: Any) -> None:
        """set_inference_policy: the fields named replace the current ones."""
        inference_policy.set_policy(self.agent, self.canister_id, inference_policy.InferencePolicy(**fields))

    def allow(self, principals: Sequence[Principal]) -> None:
        inference_policy.change_allow_list(self.agent, self.canister_id, principals, allow=True)

    def status(self) -> dict[str, Any]:
        """canister_status as the controller, with the replica time (ns) it was read at."""
        status = management.canister_status(self.agent, self.canister_id)
        return {**status, "time_ns": self.replica.time_ns()}

    def attack(self, steps: Sequence[dict[str, Any]] = (), hammer: dict[str, Any] | None = None,
               timeout: float = 120) -> list[dict[str, Any]]:
        """Run the attacker script once; the calls it made, in the order they ended."""
        request = {"url": self.server.url, "canister": str(self.canister_id), "steps": list(steps), "hammer": hammer}
        proc = subprocess.run(["node", str(SCRIPT)], cwd=REPO, input=json.dumps(request), capture_output=True,
                              text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{SCRIPT.name} failed: {proc.stderr.strip()[-2000:]}")
        return json.loads(proc.stdout)["calls"]


def seed_caller(seed: bytes) -> dict[str, str]:
    return {"seed": seed.hex()}


def principal_of(seed: bytes) -> Principal:
    return Ed25519Identity.from_seed(seed).principal


# --- what a refusal says -----------------------------------------------------------------------------------

def refusal_line(call: dict[str, Any]) -> str:
    """The reason a caller reads: the canister's reject message, or the line
    canister_inspect_message trapped with."""
    return canister_line(call.get("reject_message") or "")


# --- cycles ---------------------------------------------------------------------------------------------------


def message_fee(call: dict[str, Any]) -> int:
    """What the IC charges a message that reached execution besides the instructions the
    canister reads from its counter: its induction (by the signed request's size), the execution
    fee and the instructions after the last counter read (MESSAGE_TAIL)."""
    return prices.update_cycles(MESSAGE_TAIL, call["ingress_bytes"])


def counted_fee(call: dict[str, Any]) -> int:
    """The fees the canister itself counts in window_spent for this message (inference updates:
    the fixed fees of an ingress update with its argument and method name plus its allowances for
    the envelope and the tail it cannot see, icchat.gpt2_canister.inference_overhead; others: none)."""
    if call["method"] not in INFERENCE_METHODS:
        return 0
    return prices.instructions_cycles(inference_overhead(call["arg_bytes"]))


def uncounted_fee(call: dict[str, Any]) -> int:
    """What the IC charges beyond the canister's count (0 when its allowances cover the message)."""
    return max(0, message_fee(call) - counted_fee(call))


def executed(calls: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The update calls that reached execution (a certified reply or reject)."""
    return [c for c in calls if c["outcome"] in ("replied", "rejected") and c["kind"] != "generate_query"]


def windows_entered(policy: dict[str, Any], start_ns: int, end_ns: int) -> int:
    width = policy["window_seconds"] * 10**9
    return end_ns // width - start_ns // width


def largest_step(calls: Sequence[dict[str, Any]]) -> int:
    """The largest one-token step any reply reports (the overshoot of a call that stops at its limit)."""
    steps = [s for c in calls if c.get("reply") for s in c["reply"].get("token_instructions", [])]
    return max(steps, default=0)


@dataclass
class Stretch:
    """A stretch of calls with the canister's balance and usage before and after."""

    calls: list[dict[str, Any]]
    status_before: dict[str, Any]
    status_after: dict[str, Any]
    usage_before: dict[str, Any]
    usage_after: dict[str, Any]
    policy: dict[str, Any]
    status_call_cycles: int = 0  # what reading canister_status costs the canister (ingress to aaaaa-aa)
    refusal_instructions: int = 0  # a refusal's cost in execution (set once measured)
    bound_terms: dict[str, int] = field(default_factory=dict)

    @property
    def cycles_spent(self) -> int:
        return self.status_before["cycles"] - self.status_after["cycles"]

    @property
    def executed_refusals(self) -> int:
        """Inference updates refused in execution in this stretch (the canister's own count)."""
        return self.usage_after["refused"] - self.usage_before["refused"]

    def overshoot(self) -> int:
        """One call's overshoot past the window budget, plus the refusals that ran in execution."""
        return largest_step(self.calls) + self.executed_refusals * self.refusal_instructions

    def cycle_bound(self) -> int:
        window = self.policy["window_instructions"]
        entered = windows_entered(self.policy, self.status_before["time_ns"], self.status_after["time_ns"])
        budget = max(0, window - self.usage_before["window_spent"]) + entered * window
        # storage is charged every >= 10 s for the time since the last charge, which may have begun
        # up to one interval before the stretch
        idle_s = (self.status_after["time_ns"] - self.status_before["time_ns"] + ALLOCATION_CHARGE_INTERVAL_NS) / 1e9
        self.bound_terms = {
            "budget_left_instructions": budget,
            "overshoot_instructions": self.overshoot(),
            "messages_executed": len(executed(self.calls)),
            "uncounted_fees_cycles": sum(uncounted_fee(c) for c in executed(self.calls)),
            "idle_cycles": math.ceil(self.status_after["idle_cycles_burned_per_day"] * idle_s / 86_400) + 1,
            "status_call_cycles": self.status_call_cycles,
        }
        t = self.bound_terms
        return (prices.instructions_cycles(t["budget_left_instructions"] + t["overshoot_instructions"])
                + t["uncounted_fees_cycles"] + t["idle_cycles"] + t["status_call_cycles"])

    def spent_bound(self) -> int:
        """A tighter bound for a stretch where only known callers ran inference: what the canister
        counted (spent_total's growth: instructions and fees) instead of the budget left, plus the
        fees it could not count, the idle burn and the status call."""
        self.cycle_bound()
        spent = self.usage_after["spent_total"] - self.usage_before["spent_total"]
        t = self.bound_terms
        return prices.instructions_cycles(spent) + t["uncounted_fees_cycles"] + t["idle_cycles"] + t["status_call_cycles"]

    def summary(self) -> dict[str, Any]:
        outcomes = Counter(c["outcome"] for c in self.calls)
        in_execution = Counter(refusal_line(c).split(":")[0] for c in self.calls if c["outcome"] == "rejected")
        return {"refusals_in_execution_by_reason": dict(in_execution),"calls": len(self.calls), "replied": outcomes["replied"], "refused_before_execution": outcomes["refused"],
                "refused_in_execution": outcomes["rejected"], "errors": outcomes["error"],
                "cycles_spent": self.cycles_spent, "cycle_bound": self.cycle_bound(), "spent_bound": self.spent_bound(),
                **self.bound_terms,
                "window_spent": self.usage_after["window_spent"], "window_instructions": self.policy["window_instructions"]}


@dataclass
class Campaign:
    """The three phases' calls and measurements."""

    allow_list: Stretch            # policy allow_list: strangers hammer while the friend chats
    victim_first: dict[str, Any]   # the victim's prefill of CONVERSATION
    flood: list[dict[str, Any]]    # fresh principals' prefills right after it
    victim_after_flood: dict[str, Any]
    hammer: Stretch                # policy open: everyone hammers until the budget is spent
    victim_after_hammer: dict[str, Any]
    cache_slots: int
    seconds: float

    def all_calls(self) -> list[dict[str, Any]]:
        return [*self.allow_list.calls, self.victim_first, *self.flood, self.victim_after_flood, *self.hammer.calls,
                self.victim_after_hammer]


def _stretch(target: OnchainTarget, policy: dict[str, Any], run) -> Stretch:
    status_before, usage_before = target.status(), target.usage()
    calls = run()
    usage_after, status_after = target.usage(), target.status()
    # the reading of status_after paid for its own call (if the IC charges it) before it was read:
    # what one such call costs, measured by a second reading right after
    status_call_cycles = max(0, status_after["cycles"] - target.status()["cycles"])
    return Stretch(calls, status_before, status_after, usage_before, usage_after, policy, status_call_cycles)


def run_campaign(target: OnchainTarget, policy: dict[str, Any] = POLICY, *, hammer_seconds: float = 35,
                 hammer_calls: int = 400, after_budget: int = 40, concurrency: int = 8) -> Campaign:
    """Allow-list phase (10 s), cache phase (~3 s), budget phase (until `after_budget` calls after
    the first "budget spent" refusal, at most hammer_seconds): at most 60 s of calls in all,
    a bounded number of them, every call to the replica on this machine's loopback."""
    started = time.monotonic()
    friend, victim = seed_caller(FRIEND_SEED), seed_caller(VICTIM_SEED)

    # 1. allow_list: strangers hammer while the allow-listed friend keeps chatting.
    target.set_policy(access="allow_list")
    target.allow([principal_of(FRIEND_SEED)])
    allow_list = _stretch(target, policy, lambda: target.attack(hammer={
        "seconds": 10, "max_calls": 120, "concurrency": concurrency, "kinds": ATTACKS, "anonymous_every": 3,
        "params": ATTACK_PARAMS,
        "honest": {"caller": friend, "every": 6, "kind": "generate", "prompt_length": 8, "max_new_tokens": 4}}))

    # 2. open: the victim caches a conversation, then fresh principals prefill more conversations
    # than the cache has slots.
    target.set_policy(access="open")
    slots = Gpt2Canister(target.replica, target.canister_id, target.controller.principal).model_info()["cache_slots"]
    (victim_first,) = target.attack([{"caller": victim, "kind": "prefill", "prompt": CONVERSATION}])
    flood = target.attack(hammer={"seconds": 15, "max_calls": 2 * slots + 8, "concurrency": concurrency,
                                  "kinds": ["prefill"], "params": {"prompt_length": 8}})
    (victim_after_flood,) = target.attack([{"caller": victim, "kind": "generate", "prompt": [*CONVERSATION, 13],
                                            "max_new_tokens": 1}])

    # 3. open: everyone hammers until the budget is spent, and on.
    hammer = _stretch(target, policy, lambda: target.attack(hammer={
        "seconds": hammer_seconds, "max_calls": hammer_calls, "concurrency": concurrency, "kinds": ATTACKS,
        "anonymous_every": 4, "params": ATTACK_PARAMS,
        "until": {"line": "onchain inference budget spent: ", "then": after_budget}}))
    hammer.refusal_instructions = budget_refusal_instructions(target)
    # The victim's conversation is still cached (a query: free, and answered with the budget spent).
    (victim_after_hammer,) = target.attack([{"caller": victim, "kind": "generate_query",
                                             "prompt": [*CONVERSATION, 13], "max_new_tokens": 1}])
    return Campaign(allow_list, victim_first, flood, victim_after_flood, hammer, victim_after_hammer, slots,
                    time.monotonic() - started)


# --- refusal costs ----------------------------------------------------------------------------------------


def executed_instructions(target: OnchainTarget, method: str, arg: bytes, sender: Principal) -> tuple[int, Any]:
    """Run one message in execution, past canister_inspect_message (as a message that slipped
    through it would): its instructions, as the replica meters them, and its response."""
    replica = target.replica
    with replica.lock:
        outcome = replica.execution.execute_update(replica.canister(target.canister_id), method, arg, sender, replica.time_ns())
    return outcome.instructions, outcome.response


def budget_refusal_instructions(target: OnchainTarget) -> int:
    """What a `generate` refused in execution costs (its instructions count in window_spent):
    the window_spent it adds, from a fresh principal."""
    before = target.usage()["window_spent"]
    stranger = Principal.self_authenticating(b"onchain abuse: a refusal")
    arg = candid.encode(_types("(GenerateRequest)"), [{"prompt": CONVERSATION, "max_new_tokens": 8}])
    executed_instructions(target, "generate", arg, stranger)
    return target.usage()["window_spent"] - before
