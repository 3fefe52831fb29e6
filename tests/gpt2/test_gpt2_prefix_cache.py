"""The prefix cache: a conversation resent with a new message feeds only the new tokens, and the
answer is bit for bit what a from-scratch pass gives (a fresh principal's first call). Only the same
(non-anonymous) caller reuses."""

from __future__ import annotations

import pytest

from icchat.gpt2_canister import Gpt2Canister
from icchat.ic.identity import Ed25519Identity
from icchat.ic.principal import Principal

OTHER = Principal.self_authenticating(b"another chat user")
PROMPT = [(17 + 389 * i) % 50000 for i in range(21)]
MESSAGE = [464, 3290, 318, 257, 1332]


def as_caller(canister: Gpt2Canister, principal: Principal) -> Gpt2Canister:
    return Gpt2Canister(canister.replica, canister.id, principal)


def newcomer(canister: Gpt2Canister) -> Gpt2Canister:
    """A principal that never called: nothing cached, its first call is a from-scratch pass (the
    anonymous principal, which never reuses, gets no update inference)."""
    return as_caller(canister, Ed25519Identity.generate().principal)


@pytest.mark.parametrize("dtype", ["f32", "q8"])
def test_a_resent_conversation_feeds_only_its_new_tokens(fresh, tiny_f32, tiny_q8, dtype):
    fresh.upload(tiny_f32 if dtype == "f32" else tiny_q8)
    first = fresh.generate(PROMPT, max_new_tokens=4, stop=[])
    conversation = PROMPT + first["tokens"] + MESSAGE
    reused = fresh.generate(conversation, max_new_tokens=4, stop=[])
    # a new principal's first call: a from-scratch pass of the same conversation
    scratch = newcomer(fresh).generate(conversation, max_new_tokens=4, stop=[])
    assert reused["tokens"] == scratch["tokens"]
    # 21 + 3 positions were cached (the last new token was never fed): 6 of 30 are fed now
    assert reused["prompt_instructions"] < scratch["prompt_instructions"]
    # logits reuse the cache too (a query: it reads the cache, its writes are dropped)
    tokens = conversation + reused["tokens"][:3]
    assert fresh.logits(tokens) == as_caller(fresh, Principal.anonymous()).logits(tokens)


def test_only_the_same_caller_reuses_and_a_new_model_starts_empty(fresh, tiny_q8, tiny_f32):
    fresh.upload(tiny_q8)
    fresh.generate(PROMPT, max_new_tokens=1, stop=[])
    again = fresh.generate(PROMPT, max_new_tokens=1, stop=[])
    other = as_caller(fresh, OTHER).generate(PROMPT, max_new_tokens=1, stop=[])
    scratch = newcomer(fresh).generate(PROMPT, max_new_tokens=1, stop=[])
    assert again["tokens"] == other["tokens"] == scratch["tokens"]
    assert again["prompt_instructions"] < other["prompt_instructions"] == scratch["prompt_instructions"]
    fresh.generate(PROMPT, max_new_tokens=1, stop=[])  # cached again for the controller
    fresh.upload(tiny_f32)
    after_switch = fresh.generate(PROMPT, max_new_tokens=1, stop=[])
    from_scratch = newcomer(fresh).generate(PROMPT, max_new_tokens=1, stop=[])
    assert after_switch["prompt_instructions"] == from_scratch["prompt_instructions"]


def test_a_long_prompt_fed_in_parts(fresh, tiny_f32):
    # max_new_tokens = 0 only feeds the prompt (no LM head): a prompt too long for one message's
    # instruction limit goes in over several messages, then generation continues from it
    fresh.upload(tiny_f32)
    prompt = [(1000 + 7919 * i) % 50000 for i in range(40)]
    parts = [fresh.generate(prompt[:end], max_new_tokens=0) for end in (16, 32)]
    assert all(part["tokens"] == [] and part["prompt_instructions"] > 0 for part in parts)
    finished = fresh.generate(prompt, max_new_tokens=3, stop=[])
    scratch = newcomer(fresh).generate(prompt, max_new_tokens=3, stop=[])
    assert finished["tokens"] == scratch["tokens"]
    assert finished["prompt_instructions"] < scratch["prompt_instructions"]
