"""The llm canister's route (canister/llm/route.c): only controllers set it, it is checked, it
survives an upgrade, and nothing it holds that is secret ever comes back: route_info shows the
kind, model and host, never the api key, the URL's path, query or credentials."""

from __future__ import annotations

from typing import Any

import pytest

from icchat.ic import candid
from icchat.ic.identity import Ed25519Identity
from icchat.ic.reject import canister_line
from icchat.llm_canister import CONTROLLER, DID, LlmCanister, chat_request_arg
from icchat.replica import Reject

SECRET = "sk-test-0123456789abcdef-never-shown"
URL = "https://user:password@api.example.com:8443/v1/chat/completions?token=also-secret"


@pytest.fixture
def canister(replica, llm_wasm) -> LlmCanister:
    return LlmCanister.install(replica, llm_wasm)


def refused(call, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(Reject) as failure:
        call(*args, **kwargs)
    return canister_line(failure.value.message)


def test_a_new_canister_has_no_route_and_says_so(canister):
    assert canister.route_info() == {"kind": "none", "model": "", "endpoint_host": None, "llm_canister": None,
                                     "api_key_set": False, "max_response_bytes": 0}
    stranger = canister.as_caller(Ed25519Identity.generate().principal)
    line = "no LLM route is configured: a controller sets one with set_route"
    assert refused(stranger.chat, [("user", "Hi")]) == line
    arg = chat_request_arg([("user", "Hi")])  # the method itself, past canister_inspect_message
    assert refused(canister.replica.update, canister.id, "v1_chat", arg, sender=stranger.sender, inspect=False) == line


def test_only_controllers_set_the_route(canister):
    stranger = canister.as_caller(Ed25519Identity.generate().principal)
    line = "set_route is for the canister's controllers only"
    assert refused(stranger.set_route_endpoint, "https://evil.example/v1/chat/completions", "m") == line
    arg = candid.encode(candid.parse_types("(Route)", DID), [{"llm_canister": {"id": stranger.sender, "model": "m"}}])
    assert refused(canister.replica.update, canister.id, "set_route", arg, sender=stranger.sender,
                   inspect=False) == line
    assert canister.route_info()["kind"] == "none"


def test_route_info_shows_the_host_never_the_key_path_or_credentials(canister):
    canister.set_route_endpoint(URL, "gpt-4o-mini", api_key=SECRET, max_response_bytes=20_000, max_tokens=500)
    info = canister.route_info()
    assert info == {"kind": "endpoint", "model": "gpt-4o-mini", "endpoint_host": "api.example.com:8443",
                    "llm_canister": None, "api_key_set": True, "max_response_bytes": 20_000}
    for method in ("route_info", "usage"):
        reply = canister.replica.query(canister.id, method, b"DIDL\x00\x00", sender=CONTROLLER)
        for secret in (SECRET, "password", "also-secret", "/v1/chat"):
            assert secret.encode() not in reply, (method, secret)


def test_the_route_and_key_survive_an_upgrade(canister, llm_wasm):
    canister.set_route_endpoint(URL, "gpt-4o-mini", api_key=SECRET)
    canister.set_policy(access="controllers")
    before = canister.route_info()
    canister.upgrade(llm_wasm)
    assert canister.route_info() == before
    assert before["api_key_set"] and before["max_response_bytes"] == 32_768  # the default
    assert canister.usage()["access"] == {"controllers": None}
    canister.set_route_endpoint(URL, "gpt-4o-mini")  # a route without a key replaces the key too
    assert canister.route_info()["api_key_set"] is False


def test_a_route_to_an_llm_canister(canister):
    llm = Ed25519Identity.generate().principal  # any principal: nothing is called here
    canister.set_route_llm_canister(llm, "llama3.1:8b")
    assert canister.route_info() == {"kind": "llm_canister", "model": "llama3.1:8b", "endpoint_host": None,
                                     "llm_canister": llm, "api_key_set": False, "max_response_bytes": 0}


@pytest.mark.parametrize(("kwargs", "line"), [
    ({"url": "ftp://example.com/x"}, "url must be an https:// URL (http:// is for a local replica's loopback addresses only)"),
    ({"url": "https:///v1/chat/completions"}, "url has no host"),
    ({"url": "https://x.example/" + "a" * 2048}, "url must be 1 to 2048 bytes, got 2066"),
    ({"model": ""}, "model must be 1 to 128 bytes, got 0"),
    ({"api_key": "k\r\nX-Injected: 1"}, "api_key must not contain control characters"),
    ({"max_tokens": 1001}, "max_tokens must be 1 to 1000 (the LLM canister's answer limit), got 1001"),
    ({"max_response_bytes": 2_000_001},
     "max_response_bytes must be 1 to 2000000 (the IC's outcall response limit), got 2000001"),
])
def test_a_bad_route_is_refused_and_the_old_one_kept(canister, kwargs, line):
    canister.set_route_endpoint("https://api.example.com/v1/chat/completions", "m", api_key="k")
    before = canister.route_info()
    settings = {"url": "https://api.example.com/v1/chat/completions", "model": "m", **kwargs}
    url, model = settings.pop("url"), settings.pop("model")
    assert refused(canister.set_route_endpoint, url, model, **settings) == line
    assert canister.route_info() == before
