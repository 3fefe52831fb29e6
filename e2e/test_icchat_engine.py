"""The icchat engine (the gpt2 canister's C model compiled for the browser) in Chromium against the
real stack, whose gpt2 canister runs the q8 weights: `auto` starts on the engine for q8 with the
canister's own weight file (no ONNX file), then, while the chat is idle, times both engines on
this device and keeps the faster (the figures kept for the next visit); on-device and onchain
(fast and verified) answers are the same tokens for the same prompt and seed, greedy and sampled;
the engine setting switches to onnxruntime-web and back and is kept across reloads."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from test_chat_page import BOOT_TIMEOUT, READY, SETTLED, ChatPage
from test_model_switch import ask, switch

BACKENDS = ("device", "onchain-fast", "onchain-verified")


@pytest.fixture(scope="module")
def chat(browser, q8_stack):
    context = browser.new_context(viewport={"width": 1200, "height": 820})
    page = ChatPage(context, q8_stack, engine=None).open()
    assert page.state() == "ready", page.page.text_content("#error-text")
    page.requests_at_ready = list(page.requests)  # before auto's measurement loads the other engine
    yield page
    context.close()


def engine_of(chat: ChatPage) -> str:
    return chat.page.evaluate("document.querySelector('#about').dataset.engine")


def set_engine(chat: ChatPage, engine: str) -> None:
    chat.page.click("#settings-toggle")
    chat.page.check(f"input[name=engine][value={engine}]")
    chat.page.click("#settings-close")
    chat.page.locator(READY).wait_for(timeout=BOOT_TIMEOUT)


SPEEDS = "JSON.parse(localStorage.getItem('icchat.engine-speeds.v1') || '{}')"


def measured(chat: ChatPage) -> dict:
    """auto's figures for the running model: {engine: ms per token} (empty until measured)."""
    speeds = chat.page.evaluate(SPEEDS)
    assert len(speeds) <= 1, speeds  # one model, one precision, one thread count here
    return next(iter(speeds.values()), {})


def test_auto_starts_on_the_icchat_engine_with_the_canisters_weight_file(chat, q8_stack):
    assert engine_of(chat) == "icchat"
    assert "icchat engine" in chat.page.text_content("#status-text")
    model_files = {urlsplit(u).path for u in chat.requests_at_ready if u.startswith(q8_stack.model_origin)}
    assert "/model/canister/gpt2-q8.bin" in model_files
    assert not any(p.endswith(".onnx") for p in model_files), model_files
    # the loader thread fetched it as soon as the manifest was certified, while Pyodide booted
    timings = json.loads(chat.page.evaluate("document.querySelector('#about').dataset.timings"))
    assert timings["prefetched"] is True, timings
    # the page is cross-origin isolated: the threaded module, two threads over shared memory; and
    # Chromium has relaxed SIMD: the module built with it
    assert any(urlsplit(u).path.endswith("icchat-engine-threads-relaxed.wasm") for u in chat.requests)
    assert "2 threads" in chat.page.text_content("#status-text")


def test_auto_times_both_engines_while_idle_and_keeps_the_faster(chat, figures, artifacts):
    chat.page.wait_for_function(f"() => Object.values({SPEEDS}).some((s) => s.icchat > 0 && s['onnxruntime-web'] > 0)",
                                timeout=BOOT_TIMEOUT)
    speeds = measured(chat)
    faster = min(speeds, key=speeds.get)
    chat.page.wait_for_function(f"() => document.querySelector('#about').dataset.engine === {faster!r}", timeout=30_000)
    assert "ms/token" in chat.page.text_content("#engine-auto")
    assert f"{speeds[faster]:.1f} ms/token" in chat.page.text_content("#status-detail")
    figures["auto_engine_ms_per_token"] = speeds
    chat.page.click("#settings-toggle")
    chat.shot(artifacts, "engine-auto-measured")  # the settings say which engine and why
    chat.page.click("#settings-close")
    chat.new_chat()
    assert ask(chat, "Which one was faster?")["tokens"] > 0  # the chosen engine answers
    # the next visit starts on the faster engine without measuring again
    chat.page.reload()
    chat.page.locator(SETTLED).wait_for(timeout=BOOT_TIMEOUT)
    assert engine_of(chat) == faster
    assert measured(chat) == speeds
    set_engine(chat, "icchat")  # the cross-checks below need the engine that computes onchain's tokens
    assert engine_of(chat) == "icchat"


@pytest.mark.parametrize("sampling", [
    {"temperature": 0, "max_new_tokens": 24},
    {"temperature": 0.9, "top_k": 40, "top_p": 0.95, "seed": 12345, "max_new_tokens": 24},
    {"temperature": 1.2, "top_k": 0, "top_p": 1, "seed": 987654321, "max_new_tokens": 24},
], ids=["greedy", "top-k-top-p", "temperature-only"])
def test_device_and_onchain_give_the_same_tokens(chat, sampling, figures):
    chat.settings(**sampling)
    tokens = {}
    for backend in BACKENDS:
        chat.new_chat()
        switch(chat, backend)
        got = ask(chat, "Tell me about the Internet Computer.")
        assert got["origin"] == backend, got
        tokens[backend] = got["tokenIds"]
    assert len(tokens["device"]) == 24, tokens  # the tiny model's random text hits no stop token
    assert tokens["onchain-fast"] == tokens["device"] and tokens["onchain-verified"] == tokens["device"], tokens
    figures.setdefault("icchat_engine_cross_check_tokens", {})[str(sampling["temperature"])] = len(tokens["device"])
    switch(chat, "device")


def test_the_engine_setting_switches_to_onnxruntime_web_and_is_kept(chat, q8_stack):
    set_engine(chat, "onnxruntime-web")
    assert engine_of(chat) == "onnxruntime-web"
    assert "onnxruntime-web" in chat.page.text_content("#status-text")
    assert "/model/onnx/decoder_model_merged_quantized.onnx" in {urlsplit(u).path for u in chat.requests}
    chat.new_chat()
    switch(chat, "device")
    assert ask(chat, "Hello there")["tokens"] > 0
    chat.page.reload()
    chat.page.locator(SETTLED).wait_for(timeout=BOOT_TIMEOUT)
    assert engine_of(chat) == "onnxruntime-web"
    assert chat.page.is_checked("input[name=engine][value=onnxruntime-web]")
    set_engine(chat, "icchat")
    assert engine_of(chat) == "icchat"
    assert chat.page.evaluate("JSON.parse(localStorage.getItem('icchat.prefs.v1')).engine") == "icchat"
    set_engine(chat, "auto")
    speeds = measured(chat)
    assert engine_of(chat) == min(speeds, key=speeds.get)  # measured once: not again
