"""Long answers never hit an instruction limit: on a model deep enough that the IC's real limits
bind (six layers at GPT-2 124M widths, f32: ~85M instructions per token, so a 500-token
conversation plus a 200-token answer needs ~50B — more than one 40B update, and 200 tokens need
~17B — more than one 5B query), both modes stop before the limit, say "budget", continue, and
give the same 200 tokens."""

from __future__ import annotations

import pytest

from icchat.gpt2_canister import Gpt2Canister, answer
from icchat.ic.principal import Principal
from icchat.model.seeded_weights import seeded_weight_file
from icchat.replica import Reject, Replica
from icchat.replica.limits import QUERY_INSTRUCTION_LIMIT, UPDATE_INSTRUCTION_LIMIT

DEEP = {"n_layer": 6, "n_head": 12, "n_embd": 768, "n_positions": 1024, "vocab_size": 1021}
CONVERSATION = [(17 + 389 * i) % 1000 for i in range(500)]
LIMITS = {"generate": UPDATE_INSTRUCTION_LIMIT, "prefill": UPDATE_INSTRUCTION_LIMIT, "generate_query": QUERY_INSTRUCTION_LIMIT}


@pytest.fixture(scope="module")
def deep(gpt2_wasm):
    with Replica() as replica:
        canister = Gpt2Canister.install(replica, gpt2_wasm)
        canister.upload(seeded_weight_file("deep", 0, "f32", shape=DEEP))
        yield canister


def caller(canister: Gpt2Canister, principal: Principal) -> Gpt2Canister:
    return Gpt2Canister(canister.replica, canister.id, principal)


def test_a_500_token_conversation_and_a_200_token_answer_in_both_modes(deep):
    results = {}
    for mode in ("verified", "fast"):
        chat = caller(deep, Principal.self_authenticating(b"long chat " + mode.encode()))
        tokens, steps = answer(chat.chat(CONVERSATION, 200, mode=mode, stop=[]))
        assert len(tokens) == 200
        for step in steps:  # every call stayed under its own limit, with room to spare
            assert step.reply["instructions"] < LIMITS[step.method]
        stops = [s.reply["stop_reason"] for s in steps if s.method != "prefill"]
        assert "budget" in stops and stops[-1] == "length"
        results[mode] = (tokens, steps)
    assert results["fast"][0] == results["verified"][0]
    verified_steps, fast_steps = results["verified"][1], results["fast"][1]
    assert all(s.method == "generate" for s in verified_steps) and len(verified_steps) >= 2
    queries = [s for s in fast_steps if s.method == "generate_query"]
    assert len(queries) >= 3 and all(len(s.reply["tokens"]) > 0 for s in queries)


def test_a_prompt_over_one_update_goes_in_over_several_prefills(deep):
    # 640 tokens at ~70M each (~45B): two prefills, the first stopping at "budget"
    chat = caller(deep, Principal.self_authenticating(b"long prompt"))
    prompt = [(5 + 7919 * i) % 1000 for i in range(640)]
    steps = list(chat.prefill_all(prompt))
    assert len(steps) >= 2 and [s.reply["stop_reason"] for s in steps] == ["budget"] * (len(steps) - 1) + ["length"]
    assert sum(s.reply["fed"] for s in steps) == len(prompt)
    assert all(s.reply["instructions"] < UPDATE_INSTRUCTION_LIMIT for s in steps)
    reply = chat.generate_query(prompt, max_new_tokens=3, stop=[])
    assert reply["reused"] == len(prompt) - 1 and len(reply["tokens"]) == 3


def test_the_anonymous_caller_gets_a_reason_when_a_prompt_cannot_fit(deep):
    anonymous = caller(deep, Principal.anonymous())
    with pytest.raises(Reject) as failure:
        anonymous.generate_query(CONVERSATION, max_new_tokens=1, stop=[])
    assert failure.value.message == (
        "the prompt's 500 tokens do not fit one query's instruction limit, and the anonymous principal has no "
        "prefix cache to feed them over several calls: call as an authenticated principal")
