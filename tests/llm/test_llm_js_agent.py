"""The llm canister through the official JS agent (@icp-sdk/core, tests/js/llm_agent.mjs) over the
local replica's HTTP interface: the stand-in of DFINITY's LLM canister answering `v1_chat` by
outcall to a real `icchat serve`, in dfinity/llm's Candid types; `route_info` without the route's
secret; the route canister's `chat` through the page's own client; and requests over the LLM
canister's limits, whose reason reaches the caller as the canister's line."""

from __future__ import annotations

import json
import subprocess

from support.llm_service import MODEL_ID

from icchat.llm_canister import LlmCanister
from icchat.paths import REPO
from icchat.replica.http import HttpServer

SECRET = "sk-agent-test-never-returned"
NODE_TIMEOUT_S = 300  # three answers by outcall to the tiny model, each from two nodes


def test_the_js_agent_calls_the_llm_canister_as_apps_and_the_page_do(replica, llm_wasm, service):
    llm = LlmCanister.install(replica, llm_wasm)
    llm.set_route_endpoint(f"{service}/v1/chat/completions", MODEL_ID, api_key=SECRET, max_tokens=8)
    route = LlmCanister.install(replica, llm_wasm)
    route.set_route_llm_canister(llm.id, MODEL_ID)
    with HttpServer(replica, port=0) as server:
        result = subprocess.run(
            ["node", str(REPO / "tests" / "js" / "llm_agent.mjs"), server.url, llm.id.to_text(), route.id.to_text()],
            capture_output=True, text=True, timeout=NODE_TIMEOUT_S, cwd=REPO,
        )
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout
    out = json.loads(result.stdout)

    # (a) v1_chat: dfinity/llm's chat_response_v1, the service's answer as its text
    [content] = out["v1_chat"]["content"]
    assert content.strip() and out["v1_chat"]["tool_calls"] == 0, out["v1_chat"]
    # (b) route_info: where the route goes, that a key is set, never the key
    host = service.removeprefix("http://")
    assert out["route_info"] == {"kind": "endpoint", "model": MODEL_ID, "endpoint_host": host, "llm_canister": None,
                                 "api_key_set": True, "max_response_bytes": 32_768}
    assert out["page_route_info"] == {"kind": "llm_canister", "model": MODEL_ID, "endpoint_host": None,
                                      "llm_canister": llm.id.to_text(), "api_key_set": False}
    # (c) chat as the page calls it: the answer, where it came from, what it cost the route canister
    chat = out["chat"]
    assert chat["text"].strip() and chat["model"] == MODEL_ID and chat["via"] == f"LLM canister {llm.id.to_text()}"
    assert chat["cycles"] > chat["instructions"] > 0, chat

    # (d) over the limits: the canister's own line, through the Actor's error and the page's client
    too_many = "at most 10 messages per request (the LLM canister's limit), got 11"
    assert out["too_many"]["line"] == too_many and too_many in out["too_many"]["error"], out["too_many"]
    too_long = "the prompt is 10241 bytes, over the 10 KiB (10240 bytes) the LLM canister accepts"
    assert out["too_long"]["line"] == out["too_long"]["error"] == too_long, out["too_long"]
    assert out["too_long"]["last_failure"] == {"line": too_long, "refused": True, "rejectCode": 4, "method": "chat"}
