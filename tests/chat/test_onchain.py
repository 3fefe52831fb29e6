"""The onchain backend in CPython against the real gpt2 canister (C → WASM in the in-process
replica): through the chat runtime it gives the tokens `Gpt2Canister.chat` gives for the same
prompt in both modes, counts its calls, instructions and mainnet cycles, stops at a call
boundary, and reports the canister's reject reason as the answer's error."""

from __future__ import annotations

from typing import Any

import pytest
from chat_helpers import collect

from icchat.chat import BackendError, ChatRuntime, Conversation, Message, Settings
from icchat.chat.onchain import OnchainBackend
from icchat.gpt2_canister import Gpt2Canister, answer
from icchat.ic.prices import IC_PRICES, update_cycles
from icchat.ic.principal import Principal


class ReplicaGpt2Client:
    """The `Gpt2Client` interface over Gpt2Canister (what web/onchain.mjs is in the page)."""

    def __init__(self, canister: Gpt2Canister) -> None:
        self.canister = canister
        self.methods: list[str] = []
        self.replies: list[dict[str, Any]] = []

    async def call(self, method: str, request: dict[str, Any]) -> dict[str, Any]:
        from icchat.replica import Reject

        self.methods.append(method)
        try:
            if method == "prefill":
                reply = self.canister.prefill(request["prompt"])
            else:
                options = {k: request.get(k) for k in ("max_new_tokens", "temperature", "top_k", "top_p", "stop")}
                options["seed"] = None if request.get("seed") is None else int(request["seed"])
                reply = getattr(self.canister, method)(request["prompt"], **options)
        except Reject as reject:
            raise BackendError(f"the gpt2 canister did not answer {method}: {reject.message}") from None
        self.replies.append({**reply, "arg_bytes": self.canister.last_arg_bytes})
        return self.replies[-1]


@pytest.fixture(scope="module")
def canister():
    from icchat.build.gpt2 import build_gpt2_wasm
    from icchat.model.seeded_weights import seeded_weight_file
    from icchat.replica import Replica

    with Replica() as replica:
        installed = Gpt2Canister.install(replica, build_gpt2_wasm().read_bytes())
        installed.upload(seeded_weight_file("tiny", 0, "f32"))
        yield installed


def caller(canister: Gpt2Canister, name: bytes) -> Gpt2Canister:
    return Gpt2Canister(canister.replica, canister.id, Principal.self_authenticating(name))


CONVERSATION = Conversation([Message("user", "What is a canister?")])
SAMPLED = Settings(temperature=1.0, top_k=40, top_p=0.95, max_new_tokens=24, seed=1234)


@pytest.mark.parametrize("mode", ["fast", "verified"])
@pytest.mark.parametrize("settings", [SAMPLED, Settings(temperature=0, max_new_tokens=24, seed=5)])
def test_the_runtime_gets_the_canisters_own_tokens(canister, tokenizer, mode, settings):
    runtime = ChatRuntime(tokenizer)
    client = ReplicaGpt2Client(caller(canister, b"runtime " + mode.encode()))
    backend = OnchainBackend(client, mode, 1024, prices=IC_PRICES)
    events = collect(runtime, CONVERSATION, backend, settings)
    got = [t for e in events for t in e.tokens]
    prompt = runtime.build_prompt(CONVERSATION, 1024, settings.max_new_tokens).tokens
    reference = caller(canister, b"reference " + mode.encode())
    want, steps = answer(reference.chat(prompt, settings.max_new_tokens, mode=mode, temperature=settings.temperature,
                                        top_k=settings.top_k, top_p=settings.top_p, seed=settings.seed,
                                        stop=[tokenizer.eot_id]))
    last = events[-1]
    assert last.done and last.origin == f"onchain-{mode}" and last.error is None
    assert got == want[:len(got)] and got  # the runtime may end earlier, at a stop string
    assert last.stats["calls"] == len(client.methods) >= 1
    assert last.stats["instructions"] == sum(r["instructions"] for r in client.replies) > 0
    assert [s.method for s in steps][:len(client.methods)] == client.methods  # the same calls
    if mode == "fast":
        assert client.methods[0] == "prefill" and "generate_query" in client.methods
        assert last.stats["queries"] >= 1 and last.stats["updates"] >= 1
    else:
        assert set(client.methods) == {"generate"} and last.stats["updates"] == len(client.methods)
    calls = zip(client.methods, client.replies, strict=True)
    assert last.stats["mainnet_cycles"] == sum(update_cycles(r["instructions"], r["arg_bytes"] + len(m))
                                               for m, r in calls if m != "generate_query") > 0


def test_fast_and_verified_agree_on_greedy_tokens(canister, tokenizer):
    runtime = ChatRuntime(tokenizer)
    settings = Settings(temperature=0, max_new_tokens=32, seed=0)
    tokens = {}
    for mode in ("fast", "verified"):
        backend = OnchainBackend(ReplicaGpt2Client(caller(canister, b"agree " + mode.encode())), mode, 1024)
        tokens[mode] = [t for e in collect(runtime, CONVERSATION, backend, settings) for t in e.tokens]
    assert tokens["fast"] == tokens["verified"] and tokens["fast"]


def test_a_stop_before_the_first_call_makes_no_call(canister, tokenizer):
    client = ReplicaGpt2Client(caller(canister, b"stopped"))
    events = collect(ChatRuntime(tokenizer), CONVERSATION, OnchainBackend(client, "verified", 1024), SAMPLED,
                     cancelled=lambda: True)
    assert events[-1].stop_reason == "cancelled" and client.methods == []


def test_a_stop_after_the_prefill_sends_no_query(canister, tokenizer):
    client = ReplicaGpt2Client(caller(canister, b"boundary"))
    events = collect(ChatRuntime(tokenizer), CONVERSATION, OnchainBackend(client, "fast", 1024), SAMPLED,
                     cancelled=lambda: len(client.methods) >= 1)
    assert events[-1].stop_reason == "cancelled" and events[-1].stats["new_tokens"] == 0
    assert client.methods == ["prefill"]  # the stop landed during the prefill: no query after it


def test_a_reject_reaches_the_answer_with_its_reason(canister, tokenizer):
    # a backend that believes in a larger context than the canister's: the canister says why not
    backend = OnchainBackend(ReplicaGpt2Client(caller(canister, b"reject")), "verified", 4096)
    long_chat = Conversation([Message("user", "word " * 500)])
    last = collect(ChatRuntime(tokenizer), long_chat, backend, Settings(max_new_tokens=600, seed=1))[-1]
    assert last.stop_reason == "error"
    assert "exceeds the context of 1024 tokens" in last.error and "generate" in last.error


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode must be one of"):
        OnchainBackend(ReplicaGpt2Client(None), "slow", 1024)  # type: ignore[arg-type]
