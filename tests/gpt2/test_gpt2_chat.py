"""Answering chats: verified (`generate` updates) and fast (`prefill` + `generate_query` queries)
give the same tokens, however an answer is split over calls; calls stop before their instruction
limit and say why; the prefix cache keeps several callers' conversations; top-k / top-p sampling."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icchat.gpt2_canister import Gpt2Canister, answer
from icchat.ic.principal import Principal
from icchat.ic.reject import canister_line
from icchat.model.seeded_weights import seeded_weight_file
from icchat.replica import Reject

PROMPT = [(17 + 389 * i) % 50000 for i in range(21)]
SAMPLING = {"temperature": 1.0, "top_k": 1000, "top_p": 0.9, "seed": 7}
ANONYMOUS_LINE = ("the anonymous principal gets no onchain inference by update: call with an identity "
                  "(or use generate_query)")


def as_caller(canister: Gpt2Canister, name: bytes | None) -> Gpt2Canister:
    principal = Principal.anonymous() if name is None else Principal.self_authenticating(name)
    return Gpt2Canister(canister.replica, canister.id, principal)


def rejected(call, *args, **kwargs) -> str:
    with pytest.raises(Reject) as failure:
        call(*args, **kwargs)
    return failure.value.message


@pytest.mark.parametrize("dtype", ["f32", "q8"])
@pytest.mark.parametrize("sampling", [{}, SAMPLING, {"temperature": 0.7, "top_k": 300, "seed": 1},
                                      {"temperature": 1.3, "top_p": 0.5, "seed": 99}])
def test_fast_and_verified_give_the_same_tokens(served, dtype, sampling):
    canister = as_caller(served[dtype], b"same tokens " + dtype.encode())
    verified = canister.generate(PROMPT, max_new_tokens=12, stop=[], **sampling)
    fast = canister.generate_query(PROMPT, max_new_tokens=12, stop=[], **sampling)
    assert fast["tokens"] == verified["tokens"] and len(verified["tokens"]) == 12
    assert fast["stop_reason"] == verified["stop_reason"] == "length"
    # the query found the update's positions in the committed cache
    assert fast["reused"] == len(PROMPT) - 1 and fast["fed"] == 1
    anonymous = as_caller(served[dtype], None).generate_query(PROMPT, max_new_tokens=12, stop=[], **sampling)
    assert anonymous["tokens"] == verified["tokens"] and anonymous["reused"] == 0


@pytest.mark.parametrize("mode", ["verified", "fast"])
def test_a_continued_answer_equals_one_long_run(served, mode):
    canister = as_caller(served["q8"], b"continued " + mode.encode())
    long_run = canister.generate(PROMPT, max_new_tokens=40, stop=[], **SAMPLING)["tokens"]
    call = canister.generate if mode == "verified" else canister.generate_query
    tokens: list[int] = []
    while len(tokens) < 40:  # the client's continuation: conversation + tokens so far
        reply = call(PROMPT + tokens, max_new_tokens=min(7, 40 - len(tokens)), stop=[], **SAMPLING)
        assert reply["stop_reason"] == "length"
        tokens += reply["tokens"]
    assert tokens == long_run
    # a different seed draws differently (the draws are keyed by seed and position)
    other = canister.generate(PROMPT, max_new_tokens=40, stop=[], **{**SAMPLING, "seed": 8})["tokens"]
    assert other != long_run


def test_a_stop_token_ends_the_answer_in_both_modes(served):
    canister = as_caller(served["f32"], b"stopper")
    first = canister.generate(PROMPT, max_new_tokens=8, stop=[])["tokens"]
    end = next(i for i in range(1, 8) if first[i] not in first[:i])  # a token not seen before it
    for call in (canister.generate, canister.generate_query):
        reply = call(PROMPT, max_new_tokens=8, stop=[first[end]])
        assert reply["tokens"] == first[:end + 1] and reply["stop_reason"] == "stop_token"


def test_several_callers_keep_their_conversations(served):
    base = served["q8"]
    callers = [as_caller(base, b"user %d" % i) for i in range(6)]
    conversations = [[(i * 977 + 13 * j) % 50000 for j in range(30)] for i in range(6)]
    answers = [c.generate(conv, max_new_tokens=4, stop=[])["tokens"] for c, conv in zip(callers, conversations, strict=True)]
    for c, conv, ans in zip(callers, conversations, answers, strict=True):
        follow_up = conv + ans + [464, 3290]
        reply = c.generate(follow_up, max_new_tokens=2, stop=[])
        assert reply["reused"] == len(conv) + 3  # its prompt and all but the last new token
    # one caller keeps several conversations (up to 4): both stay cached
    alice = callers[0]
    other_conversation = [(5 + 31 * j) % 50000 for j in range(30)]
    alice.generate(other_conversation, max_new_tokens=2, stop=[])
    assert alice.generate([*other_conversation, 11], max_new_tokens=1, stop=[])["reused"] == 30
    assert alice.generate(conversations[0] + answers[0] + [464, 3290, 11], max_new_tokens=1, stop=[])["reused"] > 30
    # the anonymous principal never reuses (and gets no update inference at all)
    anonymous = as_caller(base, None)
    assert canister_line(rejected(anonymous.generate, conversations[1], max_new_tokens=2, stop=[])) == ANONYMOUS_LINE
    assert anonymous.generate_query(conversations[1], max_new_tokens=2, stop=[])["reused"] == 0


def test_the_least_recently_used_conversation_is_evicted(fresh, tiny_q8):
    fresh.upload(tiny_q8)
    slots = fresh.model_info()["cache_slots"]
    assert slots >= 2
    callers = [as_caller(fresh, b"lru %d" % i) for i in range(slots + 1)]
    for c in callers[:slots]:  # every slot holds a conversation used in the last 10 minutes
        c.generate(PROMPT, max_new_tokens=1, stop=[])
    # one caller more computes in the scratch slot, emptied after each call: every kept conversation stays
    assert [callers[slots].generate(PROMPT, max_new_tokens=1, stop=[])["reused"] for _ in range(2)] == [0, 0]
    for c in callers[:slots]:
        assert c.generate(PROMPT, max_new_tokens=1, stop=[])["reused"] == len(PROMPT) - 1
    fresh.replica.advance_time(601)  # none is protected any more: the least recently used one goes
    callers[slots].generate(PROMPT, max_new_tokens=1, stop=[])  # one more conversation than slots
    assert callers[0].generate(PROMPT, max_new_tokens=1, stop=[])["reused"] == 0  # evicted (now cached again)
    for c in (callers[0], *callers[2:]):
        assert c.generate(PROMPT, max_new_tokens=1, stop=[])["reused"] == len(PROMPT) - 1
    # the same model committed again keeps them; a new model empties every slot
    fresh.upload(tiny_q8)
    assert callers[2].generate(PROMPT, max_new_tokens=1, stop=[])["reused"] == len(PROMPT) - 1
    fresh.upload(seeded_weight_file("tiny", 1, "q8"))
    assert callers[2].generate(PROMPT, max_new_tokens=1, stop=[])["reused"] == 0
    assert fresh.model_info()["cache_slots"] == slots


def test_prefill_feeds_the_cache_and_queries_start_from_it(served):
    canister = as_caller(served["f32"], b"prefiller")
    conversation = [*PROMPT, 464, 3290, 318]
    reply = canister.prefill(conversation)
    assert reply["tokens"] == [] and reply["stop_reason"] == "length" and reply["fed"] == len(conversation)
    query = canister.generate_query(conversation, max_new_tokens=5, stop=[])
    assert query["reused"] == len(conversation) - 1
    assert query["tokens"] == as_caller(served["f32"], b"from scratch").generate(conversation, max_new_tokens=5, stop=[])["tokens"]
    tokens, steps = answer(canister.chat(conversation, 5, mode="fast", stop=[]))
    assert tokens == query["tokens"] and [s.method for s in steps] == ["prefill", "generate_query"]
    assert canister_line(rejected(as_caller(served["f32"], None).prefill, conversation)) == ANONYMOUS_LINE


def softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    weights = np.exp((logits - logits.max()) / temperature)
    return weights / weights.sum()


def test_top_k_above_256_is_honoured(served):
    canister = as_caller(served["f32"], b"top k")
    logits = np.array(canister.logits(PROMPT), dtype=np.float64)
    rank = np.empty(len(logits), dtype=int)
    rank[np.argsort(-logits, kind="stable")] = np.arange(len(logits))
    # a temperature this high makes the 300 kept tokens almost equally likely
    drawn = [canister.generate_query(PROMPT, max_new_tokens=1, temperature=100.0, top_k=300, seed=s)["tokens"][0]
             for s in range(60)]
    ranks = [int(rank[t]) for t in drawn]
    assert max(ranks) < 300 and any(r >= 256 for r in ranks)  # not capped at 256, not past 300
    unlimited = [canister.generate_query(PROMPT, max_new_tokens=1, temperature=100.0, top_k=50257, seed=s)["tokens"][0]
                 for s in range(20)]
    assert max(int(rank[t]) for t in unlimited) >= 300  # top_k ≥ the vocabulary: no cut


def test_top_p_keeps_the_nucleus(served):
    canister = as_caller(served["f32"], b"top p")
    logits = np.array(canister.logits(PROMPT), dtype=np.float64)
    order = np.argsort(-logits, kind="stable")
    for top_p in (0.3, 0.8):
        probs = softmax(logits, 2.0)[order]
        nucleus = int(np.searchsorted(np.cumsum(probs), top_p)) + 1  # smallest prefix reaching top_p
        drawn = {canister.generate_query(PROMPT, max_new_tokens=1, temperature=2.0, top_p=top_p, seed=s)["tokens"][0]
                 for s in range(40)}
        allowed = set(order[:nucleus + 1].tolist())  # one of slack for float rounding at the edge
        assert drawn <= allowed and len(drawn) > 1
    greedy = canister.generate(PROMPT, max_new_tokens=4, stop=[])["tokens"]
    assert canister.generate(PROMPT, max_new_tokens=4, temperature=1.5, top_p=1e-6, seed=3, stop=[])["tokens"] == greedy


def test_bad_sampling_settings_are_rejected(served):
    canister = served["q8"]
    for call in (canister.generate, canister.generate_query):
        for top_p in (0.0, -0.5, 1.5, math.nan):
            assert rejected(call, PROMPT, top_p=top_p) == "top_p must be greater than 0 and at most 1"
        assert rejected(call, PROMPT, temperature=101.0) == "temperature must be between 0 and 100"
        assert rejected(call, []) == "the prompt is empty: give at least one token"
        assert rejected(call, [1] * 1000, max_new_tokens=100) == (
            "prompt (1000 tokens) + max_new_tokens (100) exceeds the context of 1024 tokens")
    assert rejected(canister.prefill, []) == "the prompt is empty: give at least one token"
    assert rejected(canister.prefill, [50257]) == "token id 50257 at position 0 is outside the vocabulary (50257 tokens)"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(temperature=st.floats(0.0, 3.0, width=32), top_k=st.integers(0, 60000),
       top_p=st.floats(0.0078125, 1.0, width=32), seed=st.integers(0, 2**64 - 1), length=st.integers(1, 40))
def test_fast_equals_verified_for_any_sampling_setting(served, temperature, top_k, top_p, seed, length):
    canister = as_caller(served["q8"], b"fuzz")
    prompt = [(seed >> (i % 40) ^ 7 * i) % 50257 for i in range(length)]
    settings_ = {"temperature": temperature, "top_k": top_k, "top_p": top_p, "seed": seed, "stop": []}
    verified = canister.generate(prompt, max_new_tokens=3, **settings_)
    assert canister.generate_query(prompt, max_new_tokens=3, **settings_)["tokens"] == verified["tokens"]
    assert all(0 <= t < 50257 for t in verified["tokens"]) and len(verified["tokens"]) == 3


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["generate", "prefill"]),
       data=st.one_of(st.binary(max_size=64), st.binary(max_size=40).map(lambda b: b"DIDL" + b)))
def test_malformed_chat_arguments_are_invalid_argument_rejects(served, method, data):
    canister = served["q8"]
    assert rejected(canister.replica.update, canister.id, method, data, sender=canister.sender).startswith("invalid argument: ")
    assert rejected(canister.replica.query, canister.id, "generate_query", data, sender=canister.sender).startswith(
        "invalid argument: ")


def test_counters_in_model_info(fresh, tiny_q8):
    fresh.upload(tiny_q8)
    assert fresh.model_info()["tokens_generated"] == 0
    replies = [fresh.generate(PROMPT, max_new_tokens=5, stop=[]), fresh.prefill([*PROMPT, 11])]
    fresh.generate_query(PROMPT, max_new_tokens=5, stop=[])  # a query keeps no counts
    info = fresh.model_info()
    manifest = fresh.assets.content("/model/manifest.json")
    assert info["tokens_generated"] == 5 and info["manifest_sha256"] == hashlib.sha256(manifest).digest()
    measured = sum(r["instructions"] for r in replies)  # each counted just before its reply was encoded
    assert 0.99 * measured <= info["generate_instructions"] <= measured
    assert info["average_instructions_per_token"] == info["generate_instructions"] // 5
