"""Many fresh Ed25519 identities and the anonymous principal attack the gpt2 canister's cycles and
prefix cache through the official JS agent, over the local replica's real HTTP interface, for a
bounded time (icchat.bench._onchain_abuse: an allow-list phase, a cache phase and a budget phase,
at most 60 s of calls, a bounded number of them, loopback only). The owner's worst case is the
policy they chose: the balance drops by no more than the budget (which counts the fixed fees of
inference updates) plus the fees the canister cannot count of the messages that reached execution; allow-listed callers keep being answered while strangers are refused
before execution; a recent user's cached conversation survives; every refusal is one line."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from icchat.bench import _onchain_abuse as abuse

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ic"))
from node_peer import node_available  # tests/ic

pytestmark = pytest.mark.skipif(not node_available(), reason="needs node and @icp-sdk/core in node_modules (npm ci)")

# The refusals a caller may read from an inference method (SPEC §1), by their fixed start.
INFERENCE_REFUSALS = ("onchain inference budget spent: ", "your share of onchain inference is spent: ",
                      "onchain inference on this canister is for allow-listed principals: ask its owner to allow ",
                      "onchain inference on this canister is for its controllers only",
                      "the anonymous principal gets no onchain inference by update",
                      "busy: ", "generate_query is a query: call it as a query")
# What a line a user reads must not look like: agent dumps, stack frames, the IC's help text.
NOT_ONE_CLEAR_LINE = re.compile(r"\n|\bat \S+ \(|Error from Canister|Consider gracefully|Request ID|Call context|"
                                r"Reject code|HTTP details")


@pytest.fixture(scope="module")
def campaign():
    with abuse.OnchainTarget.start(abuse.POLICY) as target:
        yield abuse.run_campaign(target)


def test_no_call_failed_for_another_reason_than_a_refusal(campaign):
    errors = [c for c in campaign.all_calls() if c["outcome"] == "error"]
    assert not errors, errors[:3]


def test_cycles_spent_stay_within_the_budget_plus_the_uncounted_fees_of_executed_messages(campaign):
    hammer = campaign.hammer
    assert hammer.cycles_spent > 0
    assert hammer.cycles_spent <= hammer.cycle_bound(), hammer.summary()


def test_the_budget_really_ran_out_and_inference_was_refused_for_it(campaign):
    lines = [abuse.refusal_line(c) for c in campaign.hammer.calls if c["outcome"] in ("refused", "rejected")]
    assert any(line.startswith("onchain inference budget spent: ") for line in lines)
    replied = [c for c in campaign.hammer.calls if c["outcome"] == "replied" and c["method"] in ("generate", "prefill")]
    assert replied, "the budget let no inference run at all"


def test_window_spent_stays_within_the_window_plus_one_calls_overshoot(campaign):
    hammer = campaign.hammer
    usage = hammer.usage_after
    assert usage["window_instructions"] == abuse.POLICY["window_instructions"]
    assert usage["window_spent"] <= usage["window_instructions"] + hammer.overshoot(), hammer.summary()
    assert usage["spent_total"] >= usage["window_spent"]


def test_an_allow_listed_identity_is_answered_while_strangers_are_refused_before_execution(campaign):
    phase = campaign.allow_list
    friend = [c for c in phase.calls if c["honest"]]
    strangers = [c for c in phase.calls if not c["honest"]]
    assert friend and all(c["outcome"] == "replied" and c["reply"]["tokens"] > 0 for c in friend), friend[:3]
    assert strangers and all(c["outcome"] == "refused" for c in strangers), \
        [c for c in strangers if c["outcome"] != "refused"][:3]
    # the strangers' calls cost nothing: the balance paid the friend's calls only
    assert phase.cycles_spent <= phase.spent_bound(), phase.summary()
    assert phase.bound_terms["messages_executed"] == len(friend)
    assert phase.executed_refusals == 0
    for call in strangers:
        if call["method"] in ("generate", "prefill") and call["arg_bytes"] < 65_536:
            expected = "the anonymous principal" if call["caller"] == "anonymous" else "onchain inference on this canister is for allow-listed"
            assert abuse.refusal_line(call).startswith(expected), call


def test_a_recent_users_cached_conversation_survives_the_flood(campaign):
    assert campaign.victim_first["outcome"] == "replied"
    assert campaign.victim_first["reply"]["fed"] == len(abuse.CONVERSATION)
    # more fresh principals than the cache has slots: the first take the free slots, the rest
    # are told "busy" (no slot used in the last 10 minutes is taken from its principal)
    assert len({c["principal"] for c in campaign.flood}) > campaign.cache_slots
    for call in campaign.flood:
        assert call["outcome"] == "replied" or abuse.refusal_line(call).startswith("busy: "), call
    after_flood, after_hammer = campaign.victim_after_flood, campaign.victim_after_hammer
    assert after_flood["outcome"] == "replied" and after_flood["reply"]["reused"] >= len(abuse.CONVERSATION), after_flood
    assert after_hammer["outcome"] == "replied" and after_hammer["reply"]["reused"] >= len(abuse.CONVERSATION), after_hammer


def test_every_refusal_the_attacker_sees_is_one_clear_line(campaign):
    refusals = [c for c in campaign.all_calls() if c["outcome"] in ("refused", "rejected")]
    assert refusals
    for call in refusals:
        line = abuse.refusal_line(call)
        assert line.strip() and len(line) <= 400 and not NOT_ONE_CLEAR_LINE.search(line), (call["kind"], line)
        if call["method"] in ("generate", "prefill") and call["arg_bytes"] < 65_536:
            assert line.startswith(INFERENCE_REFUSALS), (call["kind"], line)


def test_queries_sent_as_updates_and_oversized_arguments_are_refused_before_execution(campaign):
    calls = [*campaign.allow_list.calls, *campaign.hammer.calls]
    for kind in ("generate_query_update", "logits_update", "generate_oversized", "prefill_oversized", "store_oversized",
                 "create_batch", "create_chunk", "commit_batch", "clear", "authorize", "set_inference_policy",
                 "allow_inference"):
        made = [c for c in calls if c["kind"] == kind]
        assert made, f"no {kind} call was made"
        assert all(c["outcome"] == "refused" for c in made), [c for c in made if c["outcome"] != "refused"][:2]
    queries = [abuse.refusal_line(c) for c in calls if c["kind"] == "generate_query_update"]
    assert all("is a query" in line for line in queries), queries[:2]
