"""The prefix cache is fair (canister/gpt2/kv_slots.h): strangers with many fresh principals cannot
evict a conversation used in the last 10 minutes; newcomers get "busy" for a prefill, or a generate
computed in the scratch slot that keeps nothing; after 10 minutes of IC time the slots may be taken
again; forget_conversations empties the caller's slots."""

from __future__ import annotations

import re

import pytest

from icchat.gpt2_canister import Gpt2Canister
from icchat.ic.identity import Ed25519Identity
from icchat.ic.reject import canister_line
from icchat.replica import Reject

VICTIM_CONVERSATION = [(17 + 389 * i) % 50000 for i in range(40)]
BUSY = (r"busy: every conversation slot holds a conversation used in the last 10 minutes; try again in (\d+) min or "
        r"answer on this device")


def stranger(canister: Gpt2Canister) -> Gpt2Canister:
    return canister.as_caller(Ed25519Identity.generate().principal)


def conversation(seed: int) -> list[int]:
    return [(seed * 7919 + 31 * j) % 50000 for j in range(12)]


def busy_minutes(call, *args, **kwargs) -> int:
    with pytest.raises(Reject) as failure:
        call(*args, **kwargs)
    found = re.fullmatch(BUSY, canister_line(failure.value.message))
    assert found, failure.value.message
    return int(found.group(1))


@pytest.fixture
def canister(fresh, tiny_q8) -> Gpt2Canister:
    fresh.upload(tiny_q8)
    assert fresh.model_info()["cache_slots"] == 16
    return fresh


def test_a_recent_conversation_survives_strangers_with_many_principals(canister):
    victim = stranger(canister)
    assert victim.prefill(VICTIM_CONVERSATION)["fed"] == len(VICTIM_CONVERSATION)
    attackers = [stranger(canister) for _ in range(4)]
    for a, attacker in enumerate(attackers):  # 4 principals x 4 two-token prefills: as many as there are slots
        for k in range(4):
            attacker.prefill(conversation(100 * a + k)[:2])
    follow_up = victim.generate([*VICTIM_CONVERSATION, 11, 12], max_new_tokens=2, stop=[])
    assert follow_up["reused"] == len(VICTIM_CONVERSATION)  # nothing fed again

    # only each principal's latest conversation is protected: a newcomer takes an older one
    newcomer = stranger(canister)
    assert newcomer.prefill(conversation(999))["fed"] == 12
    for a, attacker in enumerate(attackers):  # every attacker's latest conversation is still there
        assert attacker.generate_query(conversation(100 * a + 3)[:2], max_new_tokens=1)["reused"] == 1

    # sixteen principals each having a conversation now hold every slot: the next one is told busy
    crowd = [stranger(canister) for _ in range(10)]
    for c, person in enumerate(crowd):
        person.prefill(conversation(500 + c))
    latecomer = stranger(canister)
    assert 1 <= busy_minutes(latecomer.prefill, conversation(998)) <= 10
    # a latecomer's generate runs in the scratch slot: answered, nothing kept, nobody evicted
    first = latecomer.generate(conversation(998), max_new_tokens=3, stop=[])
    assert len(first["tokens"]) == 3 and first["reused"] == 0
    assert latecomer.generate(conversation(998), max_new_tokens=3, stop=[])["reused"] == 0
    usage = canister.usage()
    assert usage["refused"] == 1 and usage["callers"] == 1 + 4 + 1 + 10 + 1
    assert victim.generate([*VICTIM_CONVERSATION, 11, 12], max_new_tokens=1, stop=[])["reused"] > 0
    assert newcomer.generate_query(conversation(999), max_new_tokens=1)["reused"] == 11

    canister.replica.advance_time(601)  # 10 minutes on: no slot is protected any more
    assert latecomer.prefill(conversation(998))["fed"] == 12
    assert latecomer.generate_query(conversation(998), max_new_tokens=1)["reused"] == 11


def test_forget_conversations_empties_the_callers_slots(canister):
    alice, bob = stranger(canister), stranger(canister)
    alice.prefill(conversation(1))
    alice.prefill(conversation(2))
    bob.prefill(conversation(3))
    alice.forget_conversations()
    with pytest.raises(Reject) as failure:  # nothing left to forget: dropped before it costs anything
        alice.forget_conversations()
    assert canister_line(failure.value.message) == "forget_conversations: this canister keeps no conversation of yours"
    assert alice.generate(conversation(1), max_new_tokens=1)["reused"] == 0
    assert alice.generate_query(conversation(2), max_new_tokens=1)["reused"] == 0
    assert bob.generate_query(conversation(3), max_new_tokens=1)["reused"] == 11  # only the caller's own
