"""Every method of the gpt2 canister (canister/gpt2.did) with random and boundary values: the chat
methods (generate, generate_query, prefill, logits) with random token lists, huge max_new_tokens,
NaN/inf temperatures, top_k 0 and 2^32-1, top_p outside (0, 1], huge stop lists and seeds;
typed random arguments to every method from a caller without permission and from the
controller for the read-only ones. Each call replies, rejects with a reason (code 4, one line)
or is dropped by canister_inspect_message with one line before it executes; it never traps,
and afterwards the model still gives the same greedy answer."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from icchat.gpt2_canister import DID, Gpt2Canister
from icchat.ic import candid
from icchat.ic.principal import Principal
from icchat.ic.reject import canister_line
from icchat.replica import Reject, Replica

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ic"))
from candid_strategies import values  # tests/ic: values of a Candid type

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
STRANGER = Principal.self_authenticating(b"hostile tests: a gpt2 caller")
PROMPT = [464, 3290, 318]
U32, U64 = 2**32 - 1, 2**64 - 1
FLOATS = [0.0, -0.0, 1e-45, 1e-38, 0.5, 1.0, 1.0000001, 2.0, 99.99, 100.0, 100.00001, 1e38, -1.0, -1e-45,
          math.inf, -math.inf, math.nan]


class InspectRefused(Exception):
    """canister_inspect_message dropped an ingress call: `line` is what it trapped with."""

    def __init__(self, reject: Reject) -> None:
        super().__init__(reject.message)
        self.line = canister_line(reject.message)
        assert self.line != reject.message, f"not an inspect_message refusal: {reject.message}"


class IngressReplica:
    """The replica as an ingress caller meets it, with canister_inspect_message's verdict told
    apart from the method's own answer: inspect first (a refusal raises InspectRefused), then the
    method (whose rejects must be code 4 and whose traps are failures)."""

    def __init__(self, replica: Replica) -> None:
        self.replica = replica

    def update(self, canister_id: Principal, method: str, arg: bytes = b"", *, sender: Principal,
               inspect: bool = True) -> bytes:
        if inspect:
            try:
                self.replica.inspect_message(canister_id, method, arg, sender=sender)
            except Reject as reject:
                raise InspectRefused(reject) from None
        return self.replica.update(canister_id, method, arg, sender=sender, inspect=False)

    def __getattr__(self, name: str):
        return getattr(self.replica, name)


@pytest.fixture(scope="module")
def model(target) -> tuple[Gpt2Canister, dict, list[int]]:
    canister = Gpt2Canister(IngressReplica(target.replica), target.gpt2.id, target.gpt2.sender)
    info = canister.model_info()
    greedy = canister.generate(PROMPT, max_new_tokens=5, stop=[])["tokens"]
    return canister, info, greedy


def outcome(run, *args, **kwargs):
    """The reply, or the refusal's line once it is checked to be a reasoned canister reject or a
    one-line refusal by canister_inspect_message."""
    try:
        return run(*args, **kwargs)
    except InspectRefused as refused:
        assert refused.line and "\n" not in refused.line.strip()
        return refused.line
    except Reject as exc:
        assert exc.code == 4, f"code {exc.code}: {exc.message}"  # 5 would be a trap
        assert exc.message and "\n" not in exc.message.strip()
        return exc.message


def assert_model_answers(model) -> None:
    canister, info, greedy = model
    assert canister.generate(PROMPT, max_new_tokens=5, stop=[])["tokens"] == greedy
    assert canister.generate_query(PROMPT, max_new_tokens=5, stop=[])["tokens"] == greedy
    assert canister.model_info()["sha256"] == info["sha256"]


def check_reply(reply, info: dict, max_new_tokens: int | None) -> None:
    if isinstance(reply, str):
        return
    assert all(0 <= t < info["vocab_size"] for t in reply["tokens"])
    assert len(reply["tokens"]) <= (16 if max_new_tokens is None else max_new_tokens)
    assert reply["stop_reason"] in ("length", "stop_token", "budget")


tokens = st.integers(0, U32) | st.integers(0, 50256)
prompts = st.lists(tokens, max_size=80) | st.sampled_from([[], [U32], [50257], [50256], PROMPT * 400])
opt_u32 = st.none() | st.sampled_from([0, 1, 2, 63, 64, 1024, 1025, 2**31, U32]) | st.integers(0, 100)
opt_float = st.none() | st.sampled_from(FLOATS) | st.floats(width=32, allow_nan=True, allow_infinity=True)
opt_seed = st.none() | st.sampled_from([0, 1, U64]) | st.integers(0, U64)
stops = st.none() | st.lists(tokens, max_size=20) | st.sampled_from([[], [U32] * 100_000, list(range(50257))])


@FUZZ
@given(prompt=prompts, max_new_tokens=opt_u32, temperature=opt_float, top_k=opt_u32, top_p=opt_float, seed=opt_seed,
       stop=stops, query=st.booleans())
@example(prompt=[1], max_new_tokens=U32, temperature=None, top_k=None, top_p=None, seed=None, stop=None, query=False)
@example(prompt=[1] * 2, max_new_tokens=U32 - 1, temperature=None, top_k=None, top_p=None, seed=None, stop=None, query=True)
@example(prompt=PROMPT, max_new_tokens=2, temperature=math.nan, top_k=None, top_p=None, seed=None, stop=None, query=False)
@example(prompt=PROMPT, max_new_tokens=2, temperature=math.inf, top_k=0, top_p=None, seed=U64, stop=[], query=True)
@example(prompt=PROMPT, max_new_tokens=2, temperature=1.0, top_k=U32, top_p=math.nan, seed=None, stop=[], query=False)
@example(prompt=PROMPT, max_new_tokens=2, temperature=1.0, top_k=1, top_p=1e-45, seed=None, stop=[], query=True)
def test_generate_with_any_settings_replies_or_rejects_with_a_reason(model, prompt, max_new_tokens, temperature, top_k,
                                                                       top_p, seed, stop, query):
    canister, info, _ = model
    run = canister.generate_query if query else canister.generate
    reply = outcome(run, prompt, max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                    seed=seed, stop=stop)
    check_reply(reply, info, max_new_tokens)
    if not isinstance(reply, str) and temperature is not None and not math.isfinite(temperature):
        pytest.fail(f"temperature {temperature} was accepted")


@FUZZ
@given(prompt=prompts)
def test_prefill_with_any_prompt_replies_or_rejects_with_a_reason(model, prompt):
    canister, info, _ = model
    for caller in (canister, Gpt2Canister(canister.replica, canister.id, STRANGER)):
        reply = outcome(caller.prefill, prompt)
        check_reply(reply, info, 0)


@FUZZ
@given(tokens_=prompts)
def test_logits_for_any_tokens_are_finite_or_rejected(model, tokens_):
    canister, info, _ = model
    reply = outcome(canister.logits, tokens_)
    if not isinstance(reply, str):
        assert len(reply) == info["vocab_size"] and all(math.isfinite(x) for x in reply)
        assert tokens_ and all(t < info["vocab_size"] for t in tokens_)


def test_the_model_still_answers_after_the_chat_fuzzing(model):
    assert_model_answers(model)


METHODS = sorted(DID.service.methods.items())
READ_ONLY = {"model_info", "model_certificate", "generate_query", "logits", "api_version", "get", "get_chunk", "list",
             "http_request", "http_request_streaming_callback", "get_asset_properties", "list_authorized", "usage"}


def call(canister: Gpt2Canister, sender: Principal, method: str, func, arg: bytes):
    run = canister.replica.query if "query" in func.annotations else canister.replica.update
    return outcome(run, canister.id, method, arg, sender=sender)


@pytest.mark.parametrize("method, func", METHODS, ids=[m for m, _ in METHODS])
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_typed_random_arguments_to_every_method(model, method, func, data):
    canister = model[0]
    args = [data.draw(values(t, nan=True)) for t in func.args]
    arg = candid.encode(list(func.args), args)
    answer = call(canister, STRANGER, method, func, arg)
    if method not in READ_ONLY and method not in ("generate", "prefill", "deauthorize", "forget_conversations"):
        assert isinstance(answer, str), f"{method} by a stranger was accepted"
    if method in READ_ONLY:
        call(canister, canister.sender, method, func, arg)


@pytest.mark.parametrize("method, func", METHODS, ids=[m for m, _ in METHODS])
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_cut_and_flipped_messages_to_every_method(model, method, func, data):
    canister = model[0]
    args = [data.draw(values(t)) for t in func.args]
    message = bytearray(candid.encode(list(func.args), args))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(message) - 1))
        message[at] = data.draw(st.integers(0, 255))
    call(canister, STRANGER, method, func, bytes(message[:data.draw(st.integers(0, len(message)))]))


def test_the_model_still_answers_after_every_method_was_fuzzed(model):
    assert_model_answers(model)
    canister = model[0]
    assert canister.model_certificate()["manifest_sha256"] == canister.model_info()["manifest_sha256"]
