"""The page on phones, emulated in Chromium (Safari's own engine is e2e/test_browser_engines.py's):
iOS ends a tab near 1.5 GB, so with nothing stored an iPhone runs q8 on the icchat engine (never
onnxruntime-web, which needs about five times its file), says what it downloads and the memory it
needs before the download, answers on the device and fits the screen's width; a precision that
does not fit a phone's memory gives way to q8, and says so; a desktop keeps auto.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from replica_stack import ReplicaStack
from test_chat_page import ChatPage

# Playwright's "iPhone 13" device descriptor, at the brief's 390 x 844 (the screen; Playwright's
# viewport leaves out Safari's bars).
IPHONE = {
    "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 15_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/15.0 Mobile/15E148 Safari/604.1",
    "viewport": {"width": 390, "height": 844}, "screen": {"width": 390, "height": 844},
    "device_scale_factor": 3, "is_mobile": True, "has_touch": True,
}
# Playwright's "Pixel 7", reporting 0.25 GB as Chromium's navigator.deviceMemory does on the
# smallest devices (Chromium has no switch for it: set before the page's scripts run).
SMALL_ANDROID = {
    "user_agent": "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "viewport": {"width": 412, "height": 839}, "device_scale_factor": 2.625, "is_mobile": True, "has_touch": True,
}
DEVICE_MEMORY = "Object.defineProperty(Navigator.prototype, 'deviceMemory', { get: () => %s, configurable: true });"
ONNX_FILES = ("/model/onnx/",)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, tiny_bundle_dir):
    """The stack as `./dev up` deploys it: the gpt2 canister runs q8, so the model folder holds the
    q8 canister weight file, the one a phone's icchat engine loads (conftest's runs f32)."""
    running = ReplicaStack(tiny_bundle_dir, tmp_path_factory.mktemp("phone-stack"), onchain_dtype="q8").start()
    try:
        yield running
    finally:
        running.stop()


def about(chat: ChatPage, key: str) -> dict:
    """A JSON figure the page writes on #about (deviceFit, plan)."""
    return json.loads(chat.page.evaluate(f"document.querySelector('#about').dataset.{key} || 'null'"))


def page_width(chat: ChatPage) -> int:
    return chat.page.evaluate("document.documentElement.scrollWidth")


def said_before_downloading(statuses: list[str]) -> str:
    """The status line that said the plan, checked to come before the first download progress."""
    plan = next(i for i, s in enumerate(statuses) if "to download" in s and "of memory" in s)
    download = next(i for i, s in enumerate(statuses) if s.startswith("Downloading the model"))
    assert plan < download, statuses
    assert "needs about" in statuses[download], statuses  # the memory need stays in sight while it downloads
    return statuses[plan]


def test_an_iphone_runs_q8_on_the_icchat_engine_and_says_what_it_downloads(browser, stack, artifacts):
    context = browser.new_context(**IPHONE)
    try:
        chat = ChatPage(context, stack, engine=None).open()  # nothing stored: the page's own defaults
        chat.shot(artifacts, "phone-01-iphone-ready")
        assert chat.state() == "ready", chat.page.text_content("#error-text")
        fit = about(chat, "deviceFit")
        assert fit == {"small": True, "memoryBytes": 1_000_000_000, "why": "an iPhone or iPad: iOS ends a tab near 1.5 GB"}
        plan = about(chat, "plan")
        manifest = chat.page.evaluate("(base) => fetch(base + 'manifest.json').then((r) => r.json())", stack.model_base)
        size = {f["path"]: f["size"] for f in manifest["files"]}
        assert (plan["precision"], plan["engine"], plan["path"]) == ("q8", "icchat", "canister/gpt2-q8.bin")
        assert plan["download_bytes"] == plan["size_bytes"] == size["canister/gpt2-q8.bin"]
        assert plan["memory_bytes"] > 2 * plan["size_bytes"] and plan["instead"] is None
        assert plan["sizes"] == {"q8": size["canister/gpt2-q8.bin"]}  # the canister's own weight file only: it runs q8
        line = said_before_downloading(chat.seen()["status"])
        assert f"q8 · icchat engine · {size['canister/gpt2-q8.bin'] / 1e6:.1f} MB to download · needs about" in line, line
        assert chat.page.text_content("#status-text").startswith("Ready · q8 · icchat engine")
        assert chat.page.evaluate("document.querySelector('#about').dataset.engine") == "icchat"
        assert page_width(chat) <= 390

        # The settings say the choice and each precision's file size.
        chat.page.click("#settings-toggle")
        assert chat.page.is_checked("input[name=engine][value=icchat]") and chat.page.is_checked("input[name=precision][value=q8]")
        sizes = chat.page.locator("#settings .file-size").all_text_contents()
        assert sizes == [f"{size['canister/gpt2-q8.bin'] / 1e6:.0f} MB", ""], sizes
        box = chat.page.locator("#settings").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        chat.shot(artifacts, "phone-02-iphone-settings")
        chat.page.click("#settings-close")

        answer = chat.ask("Hello from a phone", by_enter=False)
        assert answer["origin"] == "device" and answer["tokens"] > 0
        chat.shot(artifacts, "phone-03-iphone-answer")
        assert page_width(chat) <= 390
        # onnxruntime-web never came: neither its module nor an ONNX file (no auto timing on a phone)
        fetched = [urlsplit(u).path for u in chat.requests]
        assert not [p for p in fetched if p.startswith(ONNX_FILES) or "ort-wasm" in p], fetched
        assert chat.errors == []

        # A reload says the model comes from this browser's cache: nothing to download.
        chat.page.evaluate("window.__seen.status = []")
        chat.page.reload()
        chat.page.locator("body[data-state=ready]").wait_for(timeout=120_000)
        assert about(chat, "plan")["download_bytes"] == 0
        assert any("q8 · icchat engine · from this browser's cache · needs about" in s for s in chat.seen()["status"]), chat.seen()["status"]
    finally:
        context.close()


def test_a_precision_that_does_not_fit_gives_way_to_q8_and_the_page_says_so(browser, stack, artifacts):
    """A stored choice wins over a phone's defaults, but not over its memory: 0.25 GB reported
    leaves the model 128 MiB, too little for the f32 file on onnxruntime-web, enough for q8."""
    context = browser.new_context(**SMALL_ANDROID)
    context.add_init_script(DEVICE_MEMORY % "0.25")
    context.add_init_script("localStorage.setItem('icchat.prefs.v1', JSON.stringify({ precision: 'f32', engine: 'onnxruntime-web' }))")
    try:
        chat = ChatPage(context, stack, engine=None).open()
        chat.shot(artifacts, "phone-04-android-q8-instead")
        assert chat.state() == "ready", chat.page.text_content("#error-text")
        assert about(chat, "deviceFit") == {"small": True, "memoryBytes": 2**27, "why": "a phone or tablet reporting 0.25 GB of memory"}
        plan = about(chat, "plan")
        assert (plan["precision"], plan["engine"]) == ("q8", "onnxruntime-web")
        assert plan["instead"].startswith("the f32 model on onnxruntime-web needs about 0.2 GB of memory, more than the 0.1 GB"), plan
        assert any(s.startswith("Loading the q8 model instead") and plan["instead"] in s for s in chat.seen()["status"]), chat.seen()["status"]
        assert chat.page.text_content("#status-text").startswith("Ready · q8 · onnxruntime-web")
        assert f"q8 instead: {plan['instead']}" in chat.page.text_content("#status-detail")  # still said once it runs
        assert chat.page.is_checked("input[name=precision][value=q8]")  # the settings show what runs
        assert chat.ask("Hello from a small phone", by_enter=False)["origin"] == "device"
        fetched = {urlsplit(u).path for u in chat.requests}
        assert "/model/onnx/decoder_model_merged_quantized.onnx" in fetched and "/model/onnx/decoder_model_merged.onnx" not in fetched
        assert page_width(chat) <= 412
    finally:
        context.close()


def test_a_desktop_keeps_auto_and_times_both_engines(browser, stack):
    context = browser.new_context(viewport={"width": 1200, "height": 820})
    try:
        chat = ChatPage(context, stack, engine=None).open()
        assert chat.state() == "ready", chat.page.text_content("#error-text")
        fit = about(chat, "deviceFit")
        assert fit["small"] is False, fit  # headless Chromium here reports 8 GB (its cap)
        plan = about(chat, "plan")
        assert (plan["precision"], plan["engine"], plan["instead"]) == ("q8", "icchat", None)
        chat.page.click("#settings-toggle")
        assert chat.page.is_checked("input[name=engine][value=auto]") and chat.page.is_checked("input[name=precision][value=q8]")
        # auto times onnxruntime-web too, once the chat is quiet
        chat.page.locator("#engine-auto", has_text="faster here").wait_for(timeout=120_000)
    finally:
        context.close()
