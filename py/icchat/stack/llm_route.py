"""The LLM service's canisters from the host (canister/llm.did), over an agent: pointing them at a
service and reading where they point.

Locally `icchat up` wires all real parts: "llm" (the stand-in of DFINITY's LLM canister) answers
by HTTP outcall to the `icchat serve` it started, and "llm_route" (what the page calls) answers by
calling "llm"'s `v1_chat`, as it calls w36hm-eqaaa-aaaal-qr76a-cai on mainnet.
"""

from __future__ import annotations

from typing import Any

from icchat.ic import candid
from icchat.ic.principal import Principal

# DFINITY's LLM canister (dfinity/llm) and a model it serves: what llm_route calls on mainnet.
LLM_CANISTER = "w36hm-eqaaa-aaaal-qr76a-cai"
LLM_CANISTER_MODEL = "llama3.1:8b"
# GPT-2 (124M) on native onnxruntime writes a token in 22-39 ms on 2 cores (BENCHMARKS.md), so
# 1,000 tokens could outlast an outcall's 30 s: the local stand-in asks for at most 256.
LOCAL_MAX_TOKENS = 256


def _types(text: str) -> list[Any]:
    from icchat.llm_canister import DID

    return candid.parse_types(text, DID)


def set_endpoint(agent: Any, canister: Principal, url: str, model: str, *,
                 max_tokens: int | None = LOCAL_MAX_TOKENS) -> None:
    """`set_route` (controllers): answer by outcall to the chat-completions `url`, as `model`."""
    route = {"endpoint": {"url": url, "model": model, "api_key": None, "max_response_bytes": None,
                          "max_tokens": max_tokens}}
    agent.update(canister, "set_route", candid.encode(_types("(Route)"), [route]))


def set_llm_canister(agent: Any, canister: Principal, target: Principal, model: str) -> None:
    """`set_route` (controllers): answer by calling `target`'s v1_chat, as `model`."""
    route = {"llm_canister": {"id": target, "model": model}}
    agent.update(canister, "set_route", candid.encode(_types("(Route)"), [route]))


def route_info(agent: Any, canister: Principal) -> dict[str, Any]:
    """The public `route_info` query: kind, model, endpoint_host, llm_canister, api_key_set."""
    return candid.decode(agent.query(canister, "route_info", candid.encode([], [])), _types("(RouteInfo)"))[0]


def describe(info: dict[str, Any]) -> str:
    """A route in a few words: "endpoint 127.0.0.1:8123 as tiny-s0", "LLM canister <id> as llama3.1:8b"."""
    if info["kind"] == "endpoint":
        return f"endpoint {info['endpoint_host']} as {info['model']}"
    if info["kind"] == "llm_canister":
        return f"LLM canister {info['llm_canister']} as {info['model']}"
    return "not configured"
