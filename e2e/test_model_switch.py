"""The switch between on-device and onchain answers, in Chromium against the real stack (the
gpt2 canister runs the f32 weights): one conversation answered on this device, onchain fast,
onchain verified and on this device again; greedy answers equal across backends; a 500-token
conversation answered onchain in both modes; a stopped gpt2 canister gives a clear error and a
way back, keeping what was typed. Screenshots go to build/e2e-artifacts/."""

from __future__ import annotations

import json

import pytest
from test_chat_page import BOOT_TIMEOUT, READY, REPLY_TIMEOUT, SETTLED, ChatPage

ONCHAIN = ("onchain-fast", "onchain-verified")


def switch(chat: ChatPage, backend: str) -> None:
    chat.page.check(f"#where input[value={backend}]")
    assert chat.page.is_checked(f"#where input[value={backend}]")
    assert chat.page.evaluate("JSON.parse(localStorage.getItem('icchat.prefs.v1')).backend") == backend


def answer_data(chat: ChatPage) -> dict:
    data = chat.page.evaluate("""() => {
        const m = [...document.querySelectorAll('#messages .msg.assistant')].pop();
        return { ...m.dataset, text: m.querySelector('.text').textContent, meta: m.querySelector('.meta')?.textContent ?? '' };
    }""")
    for key in ("tokens", "deltas", "calls", "updates", "queries", "instructions", "cycles"):
        if key in data:
            data[key] = int(data[key] or 0)
    data["tokenIds"] = json.loads(data.get("tokenIds") or "[]")
    return data


def ask(chat: ChatPage, text: str) -> dict:
    chat.ask(text)
    return answer_data(chat)


def test_one_conversation_on_device_onchain_fast_verified_and_device_again(chat, artifacts, figures):
    chat.new_chat()
    chat.settings(max_new_tokens=24, temperature=0.8, seed=7)
    answers = {}
    for i, backend in enumerate(["device", "onchain-fast", "onchain-verified", "device"]):
        switch(chat, backend)
        if backend in ONCHAIN:
            assert "after the current call" in chat.page.text_content("#hint")
        got = ask(chat, f"Question number {i + 1}: where are you?")
        chat.shot(artifacts, f"20-switch-{i}-{backend}")
        assert got["origin"] == backend and got["tokens"] > 0, got
        label = {"device": "on this device", "onchain-fast": "onchain · fast", "onchain-verified": "onchain · verified"}[backend]
        assert label in got["meta"] and "tokens/s" in got["meta"]
        if backend == "device":
            assert got["deltas"] > 1  # token by token
        else:
            token_calls = got["queries"] if backend == "onchain-fast" else got["updates"]
            assert got["deltas"] >= 1 and got["deltas"] >= min(token_calls, got["tokens"])  # a delta per call
            assert got["calls"] >= 1 and f"{got['calls']} call" in got["meta"]
            assert got["instructions"] > 0 and "instructions" in got["meta"]
            assert got["cycles"] > 0 and "cycles on mainnet" in got["meta"]
            if backend == "onchain-fast":
                assert got["updates"] >= 1 and got["queries"] >= 1  # prefill, then queries
            else:
                assert got["queries"] == 0 and got["updates"] == got["calls"]
        answers[backend if i < 3 else "device-again"] = got
    figures["onchain_answers"] = {k: {f: v[f] for f in ("tokens", "calls", "instructions", "cycles") if f in v}
                                  for k, v in answers.items()}
    # the history is one conversation throughout, each answer labelled where it was computed
    stored = chat.page.evaluate("""() => {
        const s = JSON.parse(localStorage.getItem('icchat.conversations.v1'));
        return s.list.find((c) => c.id === s.current).messages.map((m) => [m.role, m.origin ?? null]);
    }""")
    assert stored == [["user", None], ["assistant", "device"], ["user", None], ["assistant", "onchain-fast"],
                      ["user", None], ["assistant", "onchain-verified"], ["user", None], ["assistant", "device"]]
    assert chat.page.locator("#messages .msg").count() == 8


def test_the_switch_is_kept_across_reloads(chat):
    switch(chat, "onchain-verified")
    chat.page.reload()
    chat.page.locator(SETTLED).wait_for(timeout=BOOT_TIMEOUT)
    assert chat.page.is_checked("#where input[value=onchain-verified]")
    assert chat.page.text_content("#model-where") == "onchain · verified"
    switch(chat, "device")


def test_greedy_answers_are_the_same_tokens_on_device_f32_and_onchain(chat, figures):
    chat.page.click("#settings-toggle")
    chat.page.check("input[name=precision][value=f32]")
    chat.page.click("#settings-close")
    chat.page.locator(READY).wait_for(timeout=BOOT_TIMEOUT)
    assert "f32" in chat.page.text_content("#status-text")
    chat.settings(temperature=0, max_new_tokens=32)
    tokens = {}
    for backend in ("device", *ONCHAIN):
        chat.new_chat()
        switch(chat, backend)
        tokens[backend] = ask(chat, "Tell me about the Internet Computer.")["tokenIds"]
    figures["greedy_cross_check_tokens"] = len(tokens["device"])
    assert tokens["device"], tokens
    assert tokens["onchain-fast"] == tokens["device"] and tokens["onchain-verified"] == tokens["device"], tokens
    switch(chat, "device")


@pytest.mark.parametrize("backend", ONCHAIN)
def test_a_500_token_conversation_gets_an_onchain_answer(chat, backend, figures):
    chat.new_chat()
    chat.settings(temperature=0.8, seed=3, max_new_tokens=32)
    switch(chat, backend)
    long_text = " ".join(f"fact {i} is that canisters hold state." for i in range(60))  # ~500 tokens
    got = ask(chat, long_text)
    assert got["origin"] == backend and got["tokens"] > 0
    assert got["stopReason"] in ("eot", "stop_string", "max_tokens"), got
    assert got["calls"] >= (2 if backend == "onchain-fast" else 1) and "call" in got["meta"]
    figures[f"long_conversation_{backend}"] = {f: got[f] for f in ("tokens", "calls", "instructions", "cycles")}
    switch(chat, "device")


def test_a_stopped_gpt2_canister_gives_a_clear_error_and_a_way_back(chat, stack, artifacts):
    chat.new_chat()
    chat.settings(max_new_tokens=12)
    switch(chat, "onchain-fast")
    question = "Are you still running onchain?"
    stack.set_gpt2_running(False)
    try:
        chat.page.fill("#prompt", question)
        chat.page.press("#prompt", "Enter")
        chat.page.locator("#error:not([hidden])").wait_for(timeout=REPLY_TIMEOUT)
        chat.shot(artifacts, "21-onchain-stopped")
        message = chat.page.text_content("#error-text")
        assert "onchain answer failed" in message and "is stopped" in message, message  # the replica's reason
        assert chat.page.input_value("#prompt") == question  # nothing typed is lost
        assert chat.page.locator("#messages .msg").count() == 0
        assert chat.state() == "ready"
        chat.page.click("#error-device")  # the way back
        assert chat.page.is_checked("#where input[value=device]")
        assert chat.page.is_hidden("#error")
        chat.page.press("#prompt", "Enter")
        chat.wait_done(0)
        got = answer_data(chat)
        assert got["origin"] == "device" and got["tokens"] > 0
    finally:
        stack.set_gpt2_running(True)
    switch(chat, "onchain-verified")  # and onchain works again once the canister runs
    assert ask(chat, "And now?")["origin"] == "onchain-verified"
    switch(chat, "device")


def test_a_device_that_cannot_run_the_model_is_offered_onchain(browser, stack, artifacts):
    context = browser.new_context(viewport={"width": 1200, "height": 820})
    # onnxruntime-web's WASM fails to load: the on-device model cannot start on this "device"
    context.route("**/ort-wasm-simd-threaded.wasm", lambda route: route.fulfill(status=404, body="gone"))
    try:
        chat = ChatPage(context, stack).open()
        chat.shot(artifacts, "22-device-cannot-run")
        assert chat.state() == "ready", chat.page.text_content("#error-text")
        assert chat.page.is_visible("#device-note")
        assert "This device cannot run the model: the model could not be loaded here" in chat.page.text_content("#device-note")
        assert chat.page.is_disabled("#where input[value=device]")
        assert "onchain only" in chat.page.text_content("#status-text")
        # onchain is offered with what it means, never picked for the user
        assert "your conversation is then sent to the Internet Computer" in chat.page.text_content("#device-note")
        assert chat.page.is_checked("#where input[value=device]")
        chat.page.fill("#prompt", "Hello from a small device")
        assert chat.page.is_disabled("#send")  # device is still selected, and cannot answer
        chat.page.click("#device-note-onchain")
        assert chat.page.is_checked("#where input[value=onchain-fast]")
        chat.page.press("#prompt", "Enter")
        chat.wait_done(0)
        assert answer_data(chat)["origin"] == "onchain-fast"
    finally:
        context.close()
