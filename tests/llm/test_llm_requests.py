"""What the llm canister refuses before it asks any service (canister/llm/conversation.c, the access
policy of canister/access/): the LLM canister's limits (at most 10 messages, a prompt of at most
10 KiB), tools, another model, the anonymous principal and callers the policy leaves out — each
with one line, from the method and from canister_inspect_message alike, counted in `usage`."""

from __future__ import annotations

import pytest

from icchat.gpt2_canister import inference_overhead
from icchat.ic import candid
from icchat.ic.identity import Ed25519Identity
from icchat.ic.principal import Principal
from icchat.ic.reject import canister_line
from icchat.llm_canister import DID, LlmCanister, chat_request, chat_request_arg
from icchat.replica import Reject

URL = "https://api.example.com/v1/chat/completions"


@pytest.fixture
def canister(replica, llm_wasm) -> LlmCanister:
    canister = LlmCanister.install(replica, llm_wasm)
    canister.set_route_endpoint(URL, "gpt-4o-mini", api_key="sk-x")
    return canister


def both_refusals(canister: LlmCanister, method: str, arg: bytes, sender: Principal) -> tuple[str, str]:
    """(canister_inspect_message's line, the method's own reject) for one ingress call."""
    lines = []
    for inspect in (True, False):
        with pytest.raises(Reject) as failure:
            canister.replica.update(canister.id, method, arg, sender=sender, inspect=inspect)
        lines.append(canister_line(failure.value.message))
    return lines[0], lines[1]


def method_refusal(canister: LlmCanister, arg: bytes, method: str = "chat", sender: Principal | None = None) -> str:
    with pytest.raises(Reject) as failure:
        canister.replica.update(canister.id, method, arg, sender=sender or user(), inspect=False)
    return canister_line(failure.value.message)


def user() -> Principal:
    return Ed25519Identity.generate().principal


def test_at_most_ten_messages(canister):
    eleven = [("user" if i % 2 == 0 else "assistant", f"message {i}") for i in range(11)]
    line = "at most 10 messages per request (the LLM canister's limit), got 11"
    for method in ("chat", "v1_chat"):
        assert method_refusal(canister, chat_request_arg(eleven), method) == line


def test_a_prompt_of_at_most_ten_kib(canister):
    over = [("system", "s" * 240), ("user", "u" * 10_001)]  # 10,241 bytes of content
    line = "the prompt is 10241 bytes, over the 10 KiB (10240 bytes) the LLM canister accepts"
    assert method_refusal(canister, chat_request_arg(over)) == line
    multibyte = [("user", "é" * 5_121)]  # 10,242 bytes in 5,121 characters: bytes count
    assert method_refusal(canister, chat_request_arg(multibyte)).startswith("the prompt is 10242 bytes")


def test_no_message_no_tools_no_tool_messages_and_the_routes_model(canister):
    assert method_refusal(canister, chat_request_arg([])) == "the conversation has no message"
    assert method_refusal(canister, chat_request_arg([("user", "Hi")], model="llama3.1:8b")) == (
        "this route answers with the model gpt-4o-mini: ask for it, or leave model empty")
    types = candid.parse_types("(chat_request_v1)", DID)
    tools = {**chat_request([("user", "Hi")]),
             "tools": [{"function": {"name": "f", "parameters": None, "description": None}}]}
    assert method_refusal(canister, candid.encode(types, [tools])) == (
        "tools are not supported: this route answers text conversations")
    tool_message = {**chat_request([("user", "Hi")]),
                    "messages": [{"tool": {"content": "42", "tool_call_id": "c1"}}]}
    assert method_refusal(canister, candid.encode(types, [tool_message])) == (
        "tool messages are not supported: this route answers text conversations")
    assert method_refusal(canister, candid.encode(candid.parse_types("(text)", DID), ["Hi"])).startswith(
        "invalid argument: ")


def test_the_anonymous_principal_and_callers_the_policy_leaves_out(canister):
    arg = chat_request_arg([("user", "Hi")])
    anonymous = "the anonymous principal gets no LLM inference by update: call with an identity"
    assert both_refusals(canister, "chat", arg, Principal.anonymous()) == (anonymous, anonymous)
    canister.set_policy(access="controllers")
    controllers = "LLM inference on this canister is for its controllers only"
    assert both_refusals(canister, "v1_chat", arg, user()) == (controllers, controllers)
    canister.set_policy(access="allow_list")
    stranger = user()
    line = f"LLM inference on this canister is for allow-listed principals: ask its owner to allow {stranger.to_text()}"
    assert both_refusals(canister, "chat", arg, stranger) == (line, line)


def test_a_spent_budget_refuses_before_any_outcall(canister):
    """An outcall costs at least its 49.14M-cycle base fee: a budget with less left refuses."""
    canister.set_policy(caller_instructions=40_000_000)
    arg = chat_request_arg([("user", "Hi")])
    inspected, executed = both_refusals(canister, "chat", arg, user())
    assert inspected == executed
    assert executed.startswith("your share of LLM inference is spent: 0.04B instructions per day per principal; "
                               "it resumes at ")


def test_refusals_are_counted_and_charged(canister):
    """Every answered-or-refused message is charged (instructions + the message's fees); the
    policy's refusals are counted in `refused`, a request that does not read is not."""
    arg = chat_request_arg([])
    before = canister.usage()
    for _ in range(3):
        method_refusal(canister, arg)
    middle = canister.usage()
    assert middle["refused"] == before["refused"]
    assert middle["window_spent"] - before["window_spent"] >= 3 * inference_overhead(len(arg))
    method_refusal(canister, arg, sender=Principal.anonymous())
    after = canister.usage()
    assert after["refused"] == middle["refused"] + 1
    assert after["spent_total"] > middle["spent_total"]


def test_queries_and_controller_methods_are_refused_early(canister):
    stranger = user()
    for method in ("route_info", "transform_chat", "usage"):
        with pytest.raises(Reject) as failure:
            canister.replica.update(canister.id, method, b"DIDL\x00\x00", sender=stranger)
        assert canister_line(failure.value.message) == f"{method} is a query: call it as a query"
    route = candid.encode(candid.parse_types("(Route)", DID),
                          [{"llm_canister": {"id": stranger, "model": "m"}}])
    assert both_refusals(canister, "set_route", route, stranger)[0] == "set_route is for the canister's controllers only"
