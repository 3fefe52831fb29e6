"""Who may run inference on the gpt2 canister and what it may cost its owner (canister/access/policy.h):
the access policy with fresh Ed25519 identities and the anonymous principal, the window budget and
the per-caller quota (a call stops within them, the next is refused with when it resumes, a new
window answers again), refusals before any decoding, queries that refuse to run as updates,
canister_inspect_message giving the methods' own lines, the policy kept across upgrades, and an
upgrade over a bad bundle that does not trap."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from icchat.build.assets import build_assets_wasm
from icchat.gpt2_canister import DID, Gpt2Canister, inference_overhead, install_arg
from icchat.ic import candid
from icchat.ic.identity import Ed25519Identity
from icchat.ic.principal import Principal
from icchat.ic.reject import canister_line
from icchat.replica import Reject, Replica

PROMPT = [464, 3290, 318, 257, 1332]
ANONYMOUS = Principal.anonymous()
U32 = 2**32 - 1
DEFAULTS = {"access": "open", "window_seconds": 86_400, "window_instructions": 1_000_000_000_000,
            "caller_instructions": 100_000_000_000}
ANONYMOUS_LINE = ("the anonymous principal gets no onchain inference by update: call with an identity "
                  "(or use generate_query)")
CONTROLLERS_LINE = "onchain inference on this canister is for its controllers only"
GENERATE_QUERY_LINE = ("generate_query is a query: call it as a query (as an update it would be charged to the "
                       "canister); use generate for a verified answer")
LOGITS_LINE = "logits is a query: call it as a query (as an update it would be charged to the canister)"
RESUMES = r"resumes? at (\d{4}-\d\d-\d\d \d\d:\d\d) UTC \(in (\d+) h (\d+) min\)"


def fresh_principal() -> Principal:
    return Ed25519Identity.generate().principal


@pytest.fixture(scope="module")
def replica():
    with Replica() as replica:
        yield replica


@pytest.fixture
def install(replica, gpt2_wasm, tiny_q8):
    """install(policy=None) -> a new gpt2 canister serving the tiny q8 model, as its controller."""

    def make(policy: dict[str, Any] | None = None) -> Gpt2Canister:
        canister = Gpt2Canister.install(replica, gpt2_wasm, policy=policy)
        canister.upload(tiny_q8)
        return canister

    return make


def generate_arg(prompt: list[int], **options: Any) -> bytes:
    request = {"prompt": prompt, "max_new_tokens": None, "temperature": None, "top_k": None, "top_p": None,
               "seed": None, "stop": None, **options}
    return candid.encode(candid.parse_types("(GenerateRequest)", DID), [request])


def rejected(call, *args: Any, **kwargs: Any) -> Reject:
    with pytest.raises(Reject) as failure:
        call(*args, **kwargs)
    return failure.value


def refused(call, *args: Any, **kwargs: Any) -> str:
    """The one line a call was refused with (by the method, or by canister_inspect_message)."""
    return canister_line(rejected(call, *args, **kwargs).message)


def refusals(canister: Gpt2Canister, method: str, arg: bytes, sender: Principal) -> tuple[str, str]:
    """(the line canister_inspect_message traps with, the method's own reject) for one ingress call."""
    inspected = rejected(canister.replica.inspect_message, canister.id, method, arg, sender=sender)
    executed = rejected(canister.replica.update, canister.id, method, arg, sender=sender, inspect=False)
    assert executed.code == 4, executed.message  # a reject with its reason, not a trap
    return canister_line(inspected.message), executed.message


def resume_time(line: str, usage: dict[str, Any], now_ns: int) -> None:
    """The line names the end of the window in UTC and the time left until it."""
    at, hours, minutes = re.search(RESUMES, line).groups()
    end = datetime.fromtimestamp(usage["window_end"] / 1e9, tz=UTC)
    assert at == end.strftime("%Y-%m-%d %H:%M")
    left_minutes = -(-(usage["window_end"] - now_ns) // 60_000_000_000)
    assert abs(int(hours) * 60 + int(minutes) - left_minutes) <= 1


# ---- the init argument and the defaults ----


def test_no_init_argument_gives_the_defaults(replica, gpt2_wasm):
    for raw in (b"", candid.encode([], []), install_arg(None)):  # nothing, no value, none
        canister = Gpt2Canister.install(replica, gpt2_wasm, raw_arg=raw)
        usage = canister.usage()
        assert {k: usage[k] for k in DEFAULTS} == DEFAULTS
        assert usage["window_end"] - usage["window_start"] == 86_400 * 10**9
        assert usage["window_start"] % (86_400 * 10**9) == 0  # fixed windows: [k·W, (k+1)·W)
        assert usage["window_start"] <= replica.time_ns() < usage["window_end"]
        assert (usage["window_spent"], usage["spent_total"], usage["callers"], usage["refused"], usage["allowed"]) == (
            0, 0, 0, 0, 0)


def test_an_init_argument_sets_the_fields_it_names(replica, gpt2_wasm):
    canister = Gpt2Canister.install(replica, gpt2_wasm, policy={"access": "controllers", "window_seconds": 3600})
    usage = canister.usage()
    assert {k: usage[k] for k in DEFAULTS} == {**DEFAULTS, "access": "controllers", "window_seconds": 3600}
    failure = rejected(Gpt2Canister.install, replica, gpt2_wasm, policy={"window_seconds": 59})
    assert "window_seconds must be between 60 and 2592000 (30 days), got 59" in failure.message
    failure = rejected(Gpt2Canister.install, replica, gpt2_wasm, policy={"window_seconds": 2_592_001})
    assert "window_seconds must be between 60 and 2592000" in failure.message


# ---- access ----


def test_open_access_answers_identities_and_refuses_anonymous_updates(install):
    canister = install()
    stranger = canister.as_caller(fresh_principal())
    assert len(stranger.generate(PROMPT, max_new_tokens=2)["tokens"]) == 2
    assert stranger.prefill(PROMPT)["fed"] > 0
    anonymous = canister.as_caller(ANONYMOUS)
    assert anonymous.generate_query(PROMPT, max_new_tokens=2)["tokens"]  # queries: anyone
    assert len(anonymous.logits(PROMPT)) == 50257
    for method in ("generate", "prefill"):
        assert refusals(canister, method, generate_arg(PROMPT), ANONYMOUS) == (ANONYMOUS_LINE, ANONYMOUS_LINE)
    assert canister.usage()["refused"] == 2  # the method refusals (inspect_message changes nothing)


def test_allow_list_access(install):
    canister = install({"access": "allow_list"})
    friend, stranger = fresh_principal(), fresh_principal()
    canister.allow([friend, friend])
    assert canister.allowed() == [friend] and canister.usage()["allowed"] == 1
    assert canister.as_caller(friend).generate(PROMPT, max_new_tokens=2)["tokens"]
    assert canister.generate(PROMPT, max_new_tokens=2)["tokens"]  # controllers always
    line = f"onchain inference on this canister is for allow-listed principals: ask its owner to allow {stranger.to_text()}"
    assert refusals(canister, "generate", generate_arg(PROMPT), stranger) == (line, line)
    assert refused(canister.as_caller(stranger).generate_query, PROMPT) == line  # queries too
    assert refused(canister.as_caller(stranger).logits, PROMPT) == line
    assert refusals(canister, "prefill", generate_arg(PROMPT), ANONYMOUS) == (ANONYMOUS_LINE, ANONYMOUS_LINE)
    canister.disallow([friend])
    assert canister.allowed() == []
    friend_line = line.replace(stranger.to_text(), friend.to_text())
    assert refused(canister.as_caller(friend).generate, PROMPT) == friend_line


def test_controllers_access(install):
    canister = install({"access": "controllers"})
    assert canister.generate(PROMPT, max_new_tokens=2)["tokens"]
    assert canister.generate_query(PROMPT, max_new_tokens=2)["tokens"]
    for sender in (fresh_principal(), ANONYMOUS):
        assert refused(canister.as_caller(sender).generate_query, PROMPT) == CONTROLLERS_LINE
    stranger = fresh_principal()
    assert refusals(canister, "generate", generate_arg(PROMPT), stranger) == (CONTROLLERS_LINE, CONTROLLERS_LINE)
    canister.allow([stranger])  # an allow-list does not open a controllers-only canister
    assert refused(canister.as_caller(stranger).generate, PROMPT) == CONTROLLERS_LINE
    canister.set_inference_policy(access="allow_list")
    assert canister.as_caller(stranger).generate(PROMPT, max_new_tokens=1)["tokens"]


def test_only_controllers_change_the_policy(install):
    canister = install()
    stranger = fresh_principal()
    calls = {"set_inference_policy": candid.encode(candid.parse_types("(InferencePolicy)", DID),
                                                   [{"access": {"open": None}, "window_seconds": None,
                                                     "window_instructions": 10**15, "caller_instructions": None}]),
             "allow_inference": candid.encode(candid.parse_types("(vec principal)"), [[stranger]]),
             "disallow_inference": candid.encode(candid.parse_types("(vec principal)"), [[stranger]])}
    for method, arg in calls.items():
        line = f"{method} is for the canister's controllers only"
        for sender in (stranger, ANONYMOUS):
            assert refusals(canister, method, arg, sender) == (line, line)
    assert refused(canister.as_caller(stranger).allowed) == (
        "list_allowed_inference is for the canister's controllers only")
    assert canister.usage()["window_instructions"] == DEFAULTS["window_instructions"]
    assert refused(canister.set_inference_policy, window_seconds=30) == (
        "window_seconds must be between 60 and 2592000 (30 days), got 30")
    too_many = [Principal.self_authenticating(b"listed %d" % i) for i in range(1001)]
    assert refused(canister.allow, too_many) == "at most 1000 principals per call, got 1001"
    canister.allow(too_many[:600])
    assert refused(canister.allow, too_many[550:1001]) == (  # 50 already listed, 401 new
        "the allow-list holds at most 1000 principals: it has 600, and 401 more would not fit")
    assert canister.usage()["allowed"] == 600


# ---- the budget and the per-caller quota ----


def test_a_budget_under_a_hundredth_of_a_billion_is_said_as_it_is(install):
    canister = install({"window_instructions": 5_000})  # less than any call: refused at once
    line = refused(canister.as_caller(fresh_principal()).generate, PROMPT, max_new_tokens=1)
    assert line.startswith("onchain inference budget spent: this canister allows 5000 instructions per day "), line


def test_the_window_budget_stops_a_call_refuses_the_next_and_refills(install):
    budget = 60_000_000  # a few tiny-model calls
    canister = install({"window_seconds": 3600, "window_instructions": budget})
    alice = canister.as_caller(fresh_principal())
    reply = alice.generate(PROMPT, max_new_tokens=1000, stop=[])
    assert reply["stop_reason"] == "budget" and 0 < len(reply["tokens"]) < 1000
    usage = alice.usage()
    assert usage["window_spent"] <= budget + max(reply["token_instructions"])
    assert usage["caller_spent"] == usage["window_spent"] == usage["spent_total"] and usage["callers"] == 1
    continued = PROMPT + reply["tokens"]  # what a client sends next
    line = refused(alice.generate, continued, max_new_tokens=1000, stop=[])
    assert line.startswith("onchain inference budget spent: this canister allows 0.06B instructions per h and they are "
                           "used; it resumes at ") and line.endswith(" Answer on this device meanwhile.")
    resume_time(line, usage, canister.replica.time_ns())
    bob = canister.as_caller(fresh_principal())
    assert refused(bob.prefill, PROMPT) == line  # everyone: the budget is the canister's
    assert alice.usage()["refused"] == 0  # so far refused by inspect_message: nothing executed
    assert refusals(canister, "prefill", generate_arg(PROMPT), bob.sender) == (line, line)
    spent = alice.usage()
    assert spent["refused"] == 1 and spent["window_spent"] <= budget + max(reply["token_instructions"]) + 2_000_000
    canister.replica.advance_time((usage["window_end"] - canister.replica.time_ns()) / 1e9 + 1)
    again = alice.generate(continued, max_new_tokens=2, stop=[])
    assert len(again["tokens"]) == 2
    refilled = alice.usage()
    assert refilled["window_start"] == usage["window_end"] and refilled["refused"] == 0
    assert refilled["window_spent"] == refilled["caller_spent"] < budget
    assert refilled["spent_total"] == spent["window_spent"] + refilled["window_spent"]


def test_the_per_caller_quota_stops_one_principal_only(install):
    share = 40_000_000
    canister = install({"window_seconds": 600, "caller_instructions": share})
    alice, bob = canister.as_caller(fresh_principal()), canister.as_caller(fresh_principal())
    reply = alice.generate(PROMPT, max_new_tokens=1000, stop=[])
    assert reply["stop_reason"] == "budget"
    usage = alice.usage()
    assert usage["caller_spent"] <= share + max(reply["token_instructions"])
    line = refused(alice.generate, PROMPT + reply["tokens"], max_new_tokens=5, stop=[])
    assert line.startswith("your share of onchain inference is spent: 0.04B instructions per 10 min per principal; "
                           "it resumes at ")
    resume_time(line, usage, canister.replica.time_ns())
    inspected, executed = refusals(alice, "prefill", generate_arg(PROMPT), alice.sender)
    assert inspected == executed and executed.startswith("your share of onchain inference is spent")
    assert len(bob.generate(PROMPT, max_new_tokens=3, stop=[])["tokens"]) == 3  # another principal's share is its own
    assert bob.usage()["callers"] == 2
    canister.replica.advance_time((usage["window_end"] - canister.replica.time_ns()) / 1e9 + 1)
    assert len(alice.generate(PROMPT, max_new_tokens=3, stop=[])["tokens"]) == 3


def test_a_refusal_costs_little_even_with_a_60_kb_argument(install):
    canister = install({"access": "allow_list", "window_instructions": 400_000_000})
    friend, stranger = fresh_principal(), fresh_principal()
    canister.allow([friend])
    big = generate_arg(PROMPT, stop=[U32] * 15_000)  # 60 KB: under the size limit, slow to decode
    assert 59_000 < len(big) <= 65_536
    before = canister.usage()["window_spent"]
    rejected(canister.replica.update, canister.id, "generate", big, sender=stranger, inspect=False)  # not allowed
    not_allowed_cost = canister.usage()["window_spent"] - before
    canister.as_caller(friend).generate(PROMPT, max_new_tokens=1000, stop=[])  # spends the budget
    before = canister.usage()["window_spent"]
    failure = rejected(canister.replica.update, canister.id, "generate", big, sender=friend, inspect=False)
    assert failure.message.startswith("onchain inference budget spent")
    budget_cost = canister.usage()["window_spent"] - before
    # what was charged: the message's instructions and the IC's fees for receiving and running it
    fees = inference_overhead(len(big))
    assert 0 < not_allowed_cost - fees < 1_000_000 and 0 < budget_cost - fees < 1_000_000
    print(f"refusal cost with a {len(big)}-byte argument: not allowed {not_allowed_cost - fees:,}, budget spent "
          f"{budget_cost - fees:,} instructions (+ {fees:,} of fees)")


def test_an_oversized_argument_is_refused_before_decoding(install):
    canister = install()
    alice = fresh_principal()
    big = generate_arg(PROMPT, stop=[U32] * 17_000)
    line = (f"the argument is {len(big)} bytes, over the 65536 bytes onchain inference accepts (a 1,024-token prompt "
            "takes under 6 KB)")
    assert refusals(canister, "generate", big, alice) == (line, line)
    assert refusals(canister, "prefill", big, alice) == (line, line)


# ---- queries stay queries ----


def test_queries_called_as_updates_are_refused(install):
    canister = install()
    alice = fresh_principal()
    tokens = candid.encode(candid.parse_types("(vec nat32)"), [PROMPT])
    assert refusals(canister, "generate_query", generate_arg(PROMPT), alice) == (GENERATE_QUERY_LINE, GENERATE_QUERY_LINE)
    assert refusals(canister, "logits", tokens, alice) == (LOGITS_LINE, LOGITS_LINE)
    for method in ("model_info", "usage", "list_allowed_inference", "model_certificate"):
        inspected = rejected(canister.replica.inspect_message, canister.id, method, candid.encode([], []), sender=alice)
        assert canister_line(inspected.message) == f"{method} is a query: call it as a query"
    assert canister.as_caller(alice).logits(PROMPT) and canister.as_caller(alice).generate_query(PROMPT)["tokens"]
    assert canister.usage()["window_spent"] == 0  # nothing was charged


def test_inspect_message_accepts_what_the_methods_serve(install):
    canister = install()
    alice = fresh_principal()
    for method, arg in (("generate", generate_arg(PROMPT)), ("prefill", generate_arg(PROMPT))):
        canister.replica.inspect_message(canister.id, method, arg, sender=alice)  # accepted: no Reject
    canister.as_caller(alice).prefill(PROMPT)
    canister.replica.inspect_message(canister.id, "forget_conversations", candid.encode([], []), sender=alice)
    arg = candid.encode(candid.parse_types("(InferencePolicy)", DID),
                        [{"access": None, "window_seconds": None, "window_instructions": None, "caller_instructions": None}])
    canister.replica.inspect_message(canister.id, "set_inference_policy", arg, sender=canister.sender)


# ---- the policy across upgrades; an upgrade over a bad bundle ----


def test_the_policy_and_spent_total_survive_an_upgrade_and_an_argument_changes_only_its_fields(install, gpt2_wasm):
    canister = install({"access": "allow_list", "window_seconds": 7200, "caller_instructions": 5 * 10**9})
    friend = fresh_principal()
    canister.allow([friend])
    canister.as_caller(friend).generate(PROMPT, max_new_tokens=3)
    before = canister.usage()
    canister.upgrade(gpt2_wasm)
    after = canister.usage()
    assert after == {**before, "callers": 0}  # the per-caller table starts again; the rest is kept
    assert canister.allowed() == [friend]
    canister.upgrade(gpt2_wasm, {"window_instructions": 123 * 10**9})
    changed = canister.usage()
    assert {k: changed[k] for k in DEFAULTS} == {"access": "allow_list", "window_seconds": 7200,
                                                 "window_instructions": 123 * 10**9, "caller_instructions": 5 * 10**9}
    assert changed["spent_total"] == before["spent_total"] and changed["allowed"] == 1
    failure = rejected(canister.upgrade, gpt2_wasm, {"window_seconds": 1})
    assert "window_seconds must be between 60" in failure.message
    assert canister.usage() == changed  # a refused upgrade changes nothing
    assert canister.as_caller(friend).generate(PROMPT, max_new_tokens=1)["tokens"]


def test_post_upgrade_over_a_bad_bundle_serves_no_model_and_does_not_trap(install, gpt2_wasm, tiny_q8):
    canister = install({"access": "controllers"})
    weight_key = f"/model/canister/{tiny_q8.name}"
    # The plain asset canister (the same store in stable memory, no bundle checks) swaps the weight
    # file for bytes the manifest does not list: the bundle in stable memory no longer adds up.
    canister.replica.install_code(canister.id, build_assets_wasm().read_bytes(), mode="upgrade", sender=canister.sender)
    from icchat.assets_canister import Upload

    canister.assets.upload({weight_key: Upload(b"not a weight file", "application/octet-stream")}, existing=True)
    canister.upgrade(gpt2_wasm)  # does not trap
    assert canister.model_info() is None
    line = refused(canister.generate, PROMPT)
    assert line == (f"no model: the bundle kept in stable memory is unusable (canister/{tiny_q8.name} is 17 bytes, "
                    f"the manifest says {tiny_q8.stat().st_size}): commit a good bundle")
    assert refused(canister.generate_query, PROMPT) == line
    assert canister.assets.content(weight_key) == b"not a weight file"  # the store is kept as it was
    assert canister.usage()["access"] == "controllers"  # and the policy
    canister.upload(tiny_q8)  # a good bundle serves again
    assert canister.generate(PROMPT, max_new_tokens=2)["tokens"]


def test_a_full_table_of_callers_refuses_new_principals_until_the_window_ends(install):
    canister = install({"window_seconds": 3600})
    empty_prompt = generate_arg([])  # admitted, then rejected after decoding: each takes a place cheaply
    crowd = [Principal.self_authenticating(b"crowd %d" % i) for i in range(4096)]
    for principal in crowd:
        failure = rejected(canister.replica.update, canister.id, "generate", empty_prompt, sender=principal, inspect=False)
        assert failure.message == "the prompt is empty: give at least one token"
    usage = canister.usage()
    assert usage["callers"] == 4096 and usage["refused"] == 0
    newcomer = fresh_principal()
    inspected, executed = refusals(canister, "generate", generate_arg(PROMPT), newcomer)
    assert inspected == executed and executed.startswith(
        "busy: 4096 principals used onchain inference in this window, as many as it keeps count of; new ones resume at ")
    resume_time(executed, usage, canister.replica.time_ns())
    assert canister.as_caller(crowd[7]).generate(PROMPT, max_new_tokens=1)["tokens"]  # counted ones go on
    canister.replica.advance_time((usage["window_end"] - canister.replica.time_ns()) / 1e9 + 1)
    assert canister.as_caller(newcomer).generate(PROMPT, max_new_tokens=1)["tokens"]
    assert canister.usage()["callers"] == 1


def test_the_clients_overhead_constants_are_the_canisters():
    """What the canister counts per inference update besides instructions (policy.h) is what the
    Python side prices bounds with (icchat.gpt2_canister)."""
    import re

    from icchat import gpt2_canister
    from icchat.paths import CANISTER_SRC

    header = (CANISTER_SRC / "access" / "policy.h").read_text()
    for name in ("MESSAGE_FEE_INSTRUCTIONS", "INGRESS_BYTE_INSTRUCTIONS", "ENVELOPE_ALLOWANCE_BYTES",
                 "TAIL_ALLOWANCE_INSTRUCTIONS"):
        value = re.search(rf"#define {name} (\d+)ull", header)
        assert value and int(value.group(1)) == getattr(gpt2_canister, name), name
