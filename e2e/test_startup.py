"""Start-up in Chromium against the real stack, with the on-device model's download held by a
Playwright route (never answered): onchain answers come before the device model has loaded, the
status line says the device model still loads, and the watchdog says what start-up waits for
with its ways out (answer onchain, retry, reload). Screenshots go to build/e2e-artifacts/."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError
from test_chat_page import BOOT_TIMEOUT, READY, ChatPage, timings
from test_model_switch import answer_data, switch

# The page's default on-device model with ChatPage's engine (onnxruntime-web) at q8.
MODEL_FILE = "onnx/decoder_model_merged_quantized.onnx"
STALL_SHOWN = "#stall:not([hidden])"


class Held:
    """Requests matching `matches` are held, unanswered, until `release` lets them and later ones
    through (a request whose worker was terminated meanwhile is gone: nothing to let through)."""

    def __init__(self, context, matches: Callable[[str], bool]) -> None:
        self.context, self.matches = context, matches
        self.routes: list = []
        context.route(matches, self.hold)

    def hold(self, route) -> None:
        self.routes.append(route)  # neither fulfilled nor continued: the request waits

    def release(self) -> None:
        for route in self.routes:
            with contextlib.suppress(PlaywrightError):  # its worker was terminated (Retry): the request is gone
                route.continue_()
        self.context.unroute(self.matches, self.hold)


def hold_model_file(context, stack) -> Held:
    return Held(context, lambda url: url.split("?", 1)[0] == stack.model_base + MODEL_FILE)


def open_starting(browser, stack) -> tuple[object, ChatPage]:
    context = browser.new_context(viewport={"width": 1200, "height": 820})
    return context, ChatPage(context, stack)


def stall_text(chat: ChatPage) -> str:
    return chat.page.text_content("#stall-text") or ""


def test_onchain_answers_while_the_device_model_is_still_loading(browser, stack, artifacts):
    context, chat = open_starting(browser, stack)
    try:
        held = hold_model_file(context, stack)
        chat.page.goto(stack.page_url)
        chat.page.locator("#status-text", has_text=re.compile("^Onchain ready")).wait_for(timeout=BOOT_TIMEOUT)
        chat.shot(artifacts, "50-onchain-ready-device-loading")
        assert held.routes, "the model file was never asked for"
        status = chat.page.text_content("#status-text")
        assert status.startswith("Onchain ready · loading"), status
        assert chat.state() == "loading"  # the device model's outcome is still to come
        # the device is not said to be unable, only to be loading; its answers come once it is loaded
        assert chat.page.is_hidden("#device-note")
        assert chat.page.is_enabled("#where input[value=device]")
        assert "once the model is loaded" in chat.page.text_content("#hint")
        assert "on-device model is loaded" in chat.page.get_attribute("#prompt", "placeholder")
        switch(chat, "onchain-fast")
        chat.page.fill("#prompt", "Are you there before the model is?")
        chat.page.press("#prompt", "Enter")
        chat.wait_done(0)
        got = answer_data(chat)
        assert got["origin"] == "onchain-fast" and got["tokens"] > 0, got
        # still loading the device model meanwhile, and back to loading (not ready) after the answer
        assert chat.state() == "loading"
        assert chat.page.text_content("#status-text").startswith("Onchain ready · loading")
        assert chat.errors == []
    finally:
        context.close()


def test_a_stalled_download_is_said_with_its_ways_out_and_retry_loads_the_device_model(browser, stack, artifacts):
    context, chat = open_starting(browser, stack)
    try:
        held = hold_model_file(context, stack)
        chat.page.goto(stack.page_url)
        chat.page.locator(f"{STALL_SHOWN} #stall-text", has_text="the model download from the gpt2 canister").wait_for(timeout=BOOT_TIMEOUT)
        chat.shot(artifacts, "51-stalled-download")
        assert stall_text(chat) == "No progress for 20 s: waiting for the model download from the gpt2 canister."
        assert chat.page.text_content("#status-text").startswith("Onchain ready · loading")
        for way_out in ("#stall-onchain", "#stall-retry", "#stall-reload"):
            assert chat.page.is_visible(way_out), way_out
        chat.page.click("#stall-retry")  # a new worker, whose model file is held too until released
        assert chat.page.is_hidden("#stall") and chat.state() == "loading"
        held.release()
        chat.page.locator(READY).wait_for(timeout=BOOT_TIMEOUT)
        assert chat.page.is_hidden("#stall")
        assert chat.page.text_content("#status-text").startswith("Ready · q8")
        assert chat.ask("And now on this device?")["origin"] == "device"
        t = timings(chat)
        assert 0 < t["onchain"] <= t["total"], t
    finally:
        context.close()


def test_a_message_sent_during_start_up_is_answered_onchain_from_the_stall_notice(browser, stack, artifacts):
    context, chat = open_starting(browser, stack)
    try:
        hold_model_file(context, stack)
        chat.page.goto(stack.page_url)
        assert chat.state() == "loading"
        chat.page.fill("#prompt", "Answer me wherever you can")
        chat.page.press("#prompt", "Enter")
        assert chat.page.locator("#messages .msg.user[data-state=pending]").count() == 1
        chat.page.locator("#stall-onchain:visible").wait_for(timeout=BOOT_TIMEOUT)  # once onchain can answer
        chat.shot(artifacts, "52-stall-answer-onchain")
        chat.page.click("#stall-onchain")
        assert chat.page.is_checked("#where input[value=onchain-fast]")
        chat.wait_done(0)
        got = answer_data(chat)
        assert got["origin"] == "onchain-fast" and got["tokens"] > 0, got
        assert chat.page.locator("#messages .msg.user[data-state=pending]").count() == 0
        # the download is still stalled: the notice stays, its onchain way out is taken
        assert chat.page.is_visible("#stall") and chat.page.is_hidden("#stall-onchain")
    finally:
        context.close()


def test_a_worker_that_never_starts_is_said_and_retry_starts_it(browser, stack, artifacts):
    context, chat = open_starting(browser, stack)
    try:
        held = Held(context, lambda url: urlsplit(url).path == "/worker.js")  # its module never arrives
        chat.page.goto(stack.page_url)
        chat.page.locator(STALL_SHOWN).wait_for(timeout=BOOT_TIMEOUT)
        chat.shot(artifacts, "53-worker-never-starts")
        assert stall_text(chat) == "No progress for 20 s: waiting for the chat worker to start."
        assert chat.page.is_hidden("#stall-onchain")  # nothing can answer onchain without the worker
        assert chat.page.is_visible("#stall-retry") and chat.page.is_visible("#stall-reload")
        chat.page.click("#stall-retry")  # a new worker, whose module is held too until released
        assert chat.page.is_hidden("#stall") and chat.state() == "loading"
        held.release()
        chat.page.locator(READY).wait_for(timeout=BOOT_TIMEOUT)
        assert chat.page.is_hidden("#stall")
    finally:
        context.close()


def test_a_browser_that_shares_no_memory_between_threads_is_told_it_runs_one(browser, stack, artifacts):
    """The page served without cross-origin isolation (its COOP/COEP headers dropped on the way):
    no SharedArrayBuffer for the worker, so the model runs on one thread, and the status says why."""
    context, chat = open_starting(browser, stack)
    direct = f"http://127.0.0.1:{stack.info.port}/?canisterId={stack.info.frontend}"  # Node resolves no *.localhost

    def not_isolated(route) -> None:
        response = route.fetch(url=direct)
        headers = {k: v for k, v in response.headers.items() if not k.lower().startswith("cross-origin-")}
        route.fulfill(response=response, headers=headers)

    context.route(stack.page_url, not_isolated)
    try:
        chat.open()
        chat.shot(artifacts, "54-one-thread")
        assert chat.state() == "ready", chat.page.text_content("#error-text")
        assert chat.page.evaluate("self.crossOriginIsolated") is False
        steps = [s for s in chat.seen()["status"] if "one thread (this browser shares no memory between threads)" in s]
        assert steps, chat.seen()["status"]
        assert chat.page.text_content("#status-text").endswith("· 1 thread")
        assert chat.ask("One thread is enough?")["origin"] == "device"
    finally:
        context.close()
