"""The chat page in Chromium: loads offline, verifies and caches the model, streams answers
computed on this device, stops, reproduces seeded answers, refuses tampered weights, renders
hostile text as text, and works at phone width. Screenshots go to build/e2e-artifacts/.

One page (one browser context) carries the desktop tests in order, so Pyodide and the model
load once; the tampered-model test uses a fresh context (an empty cache).
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

import pytest

READY = "body[data-state=ready]"
SETTLED = "body[data-state=ready], body[data-state=error]"
BOOT_TIMEOUT = 120_000
REPLY_TIMEOUT = 90_000

# Installed before the page's own scripts: records what the status line and the newest answer
# showed over time, so tests can tell a streamed answer from one that appears at once.
RECORDER = """
window.__seen = { progress: [], status: [], answer: [] };
new MutationObserver(() => {
  const bar = document.querySelector('#progress');
  const status = document.querySelector('#status');
  const last = document.querySelector('#messages .msg.assistant:last-child .text');
  if (bar) { const v = Number(bar.getAttribute('aria-valuenow')); const p = window.__seen.progress; if (p[p.length - 1] !== v) p.push(v); }
  if (status) { const s = status.textContent.replace(/\\s+/g, ' ').trim(); const a = window.__seen.status; if (a[a.length - 1] !== s) a.push(s); }
  if (last) { const n = last.textContent.length; const a = window.__seen.answer; if (a[a.length - 1] !== n) a.push(n); }
}).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
"""


# These tests were written for onnxruntime-web on the device; the page's `auto` now picks the
# icchat engine when the bundle has canister weights (e2e/test_icchat_engine.py tests that).
PIN_ENGINE = """
try {
  const key = 'icchat.prefs.v1', prefs = JSON.parse(localStorage.getItem(key) || '{}');
  if (!('engine' in prefs)) localStorage.setItem(key, JSON.stringify({ ...prefs, engine: %s }));
} catch (e) {}
"""


class ChatPage:
    """The page as a user drives it (and what the browser fetched)."""

    def __init__(self, context, stack, engine: str | None = "onnxruntime-web") -> None:
        self.context, self.stack = context, stack
        self.page = context.new_page()
        if engine:  # the on-device engine setting, unless the test's browser already chose one
            self.page.add_init_script(PIN_ENGINE % json.dumps(engine))
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.add_init_script(RECORDER)
        self.opened = False

    def open(self) -> ChatPage:
        self.page.goto(self.stack.page_url)
        self.page.locator(SETTLED).wait_for(timeout=BOOT_TIMEOUT)
        self.opened = True
        return self

    def state(self) -> str:
        return self.page.evaluate("document.body.dataset.state")

    def seen(self) -> dict:
        return self.page.evaluate("window.__seen")

    def ask(self, text: str, *, by_enter: bool = True) -> dict:
        """Type, send, wait for the answer; returns the last assistant message's data."""
        self.page.locator(READY).wait_for(timeout=BOOT_TIMEOUT)
        before = self.page.locator("#messages .msg.assistant").count()
        self.page.fill("#prompt", text)
        if by_enter:
            self.page.press("#prompt", "Enter")
        else:
            self.page.click("#send")
        self.wait_done(before)
        return self.last_answer()

    def wait_done(self, index: int) -> None:
        """Until the assistant message number `index` (0-based) is finished."""
        self.page.locator("#messages .msg.assistant[data-state=done]").nth(index).wait_for(timeout=REPLY_TIMEOUT)

    def last_answer(self) -> dict:
        return self.page.evaluate("""() => {
            const m = [...document.querySelectorAll('#messages .msg.assistant')].pop();
            return { text: m.querySelector('.text').textContent, origin: m.dataset.origin,
                     stopReason: m.dataset.stopReason, tokens: Number(m.dataset.tokens),
                     meta: m.querySelector('.meta')?.textContent ?? '' };
        }""")

    def settings(self, **values: object) -> None:
        """Set sampling settings through the settings panel's inputs."""
        self.page.click("#settings-toggle")
        for name, value in values.items():
            self.page.evaluate("""([name, value]) => {
                const input = document.getElementById(name);
                input.value = value;
                input.dispatchEvent(new Event('input', { bubbles: true }));
            }""", [name, "" if value is None else str(value)])
        assert self.page.text_content("#settings-error") == ""
        self.page.click("#settings-close")

    def new_chat(self) -> None:
        self.page.click("#new-chat") if self.page.is_visible("#new-chat") else self._new_chat_narrow()

    def _new_chat_narrow(self) -> None:
        self.page.click("#menu")
        self.page.click("#new-chat")

    def shot(self, artifacts, name: str) -> None:
        self.page.screenshot(path=str(artifacts / f"{name}.png"))


@pytest.fixture(scope="module")
def chat_page(browser, stack):
    """The module's page, not yet opened: the first test opens it, to see and time the first load."""
    context = browser.new_context(viewport={"width": 1200, "height": 820})
    page = ChatPage(context, stack)
    yield page
    context.close()


@pytest.fixture
def chat(chat_page):
    """The module's page, opened here if no test before opened it (a test run alone with -k)."""
    return chat_page if chat_page.opened else chat_page.open()


def origins_of(urls: list[str]) -> set[str]:
    return {f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in urls if not u.startswith(("data:", "blob:"))}


def timings(chat) -> dict:
    return chat.page.evaluate("JSON.parse(document.querySelector('#about').dataset.timings || '{}')")


def test_loads_with_no_request_to_another_origin_and_progress_reaches_100(chat_page, stack, artifacts, figures):
    chat = chat_page.open()
    figures["first_load_s"] = timings(chat)
    chat.shot(artifacts, "01-ready")
    assert chat.state() == "ready", chat.page.text_content("#error-text")
    assert origins_of(chat.requests) <= stack.origins, origins_of(chat.requests) - stack.origins
    seen = chat.seen()
    assert seen["progress"][-1] == 100 and max(seen["progress"]) == 100
    assert any("MB" in s and "%" in s for s in seen["status"]), seen["status"]
    assert "Ready" in chat.page.text_content("#status-text")
    model_requests = [urlsplit(u).path for u in chat.requests if u.startswith(stack.model_origin)]
    model_files = set(model_requests)
    # each file once: init's tokenizer and model requests to the loader thread bring them
    assert len(model_requests) == len(model_files), sorted(model_requests)
    assert "/model/onnx/decoder_model_merged_quantized.onnx" in model_files  # q8 by default
    assert "/model/onnx/decoder_model_merged.onnx" not in model_files
    # The seeded tiny model is flagged as not meaningful: the page says so.
    assert chat.page.is_visible("#warning")
    config = chat.page.evaluate("fetch('config.json').then((r) => r.json())")
    assert chat.page.text_content("#model-label") == config["model_label"]
    assert config["model_meaningful"] is False
    # the model's name, license and source, from the manifest's provenance
    origin = "tiny · license none (seeded random weights) · from seeded config tiny, seed 0"
    assert chat.page.text_content("#about").startswith(f"{origin} · Model manifest SHA-256")
    assert chat.page.get_attribute("#model-label", "title").startswith(f"{origin}, ")
    assert chat.page.evaluate("self.crossOriginIsolated")
    assert chat.errors == []


def test_an_answer_streams_token_by_token_and_is_labelled(chat, artifacts, figures):
    chat.settings(max_new_tokens=48, seed=7, temperature=0.8)
    chat.page.evaluate("window.__seen.answer = []")
    answer = chat.ask("Hello! Who are you?")
    chat.shot(artifacts, "02-answer")
    lengths = chat.seen()["answer"]
    assert len([n for n in lengths if n > 0]) >= 5, lengths  # many partial renders, growing
    assert lengths == sorted(lengths)
    assert answer["origin"] == "device" and "on this device" in answer["meta"]
    assert answer["tokens"] > 0 and answer["text"]
    assert "tokens/s" in chat.page.text_content("#speed")
    figures["tiny_q8_tokens_per_s"] = float(chat.page.text_content("#speed").split()[0])


def test_stop_ends_the_answer_mid_way(chat, artifacts, figures):
    chat.settings(max_new_tokens=600, seed=11)
    before = chat.page.locator("#messages .msg.assistant").count()
    chat.page.fill("#prompt", "Tell me a very long story.")
    chat.page.press("#prompt", "Enter")
    streaming = chat.page.locator("#messages .msg.assistant").nth(before)
    chat.page.locator("#messages .msg.assistant[data-state=streaming]").wait_for(timeout=REPLY_TIMEOUT)
    while int(streaming.get_attribute("data-tokens") or 0) < 8:
        time.sleep(0.05)
    chat.shot(artifacts, "03-streaming")
    chat.page.click("#stop")
    shown_at_stop = int(streaming.get_attribute("data-tokens"))
    chat.wait_done(before)
    answer = chat.last_answer()
    figures["tokens_after_stop_click"] = answer["tokens"] - shown_at_stop
    chat.shot(artifacts, "04-stopped")
    assert answer["stopReason"] == "cancelled" and "stopped" in answer["meta"]
    # Tokens already in flight when the click landed may still arrive; no more than that.
    assert answer["tokens"] - shown_at_stop <= 3, (shown_at_stop, answer["tokens"])
    assert answer["tokens"] < 600
    assert chat.state() == "ready"


def test_seeded_sampling_is_reproducible_and_settings_change_the_output(chat):
    prompt = "What is a canister?"

    def answer_with(**settings: object) -> str:
        chat.new_chat()
        chat.settings(max_new_tokens=20, **settings)
        return chat.ask(prompt)["text"]

    first = answer_with(seed=1234, temperature=1.0, top_k=40, top_p=0.95)
    again = answer_with(seed=1234, temperature=1.0, top_k=40, top_p=0.95)
    other_seed = answer_with(seed=99, temperature=1.0, top_k=40, top_p=0.95)
    greedy = answer_with(seed=1234, temperature=0, top_k=40, top_p=0.95)
    greedy_other_seed = answer_with(seed=5, temperature=0, top_k=40, top_p=0.95)
    assert first == again
    assert other_seed != first
    assert greedy != first
    assert greedy == greedy_other_seed  # temperature 0 ignores the seed


def test_top_k_is_bounded_by_the_models_vocabulary(chat, stack):
    vocab_size = json.loads(stack.bundle.joinpath("manifest.json").read_text())["model"]["vocab_size"]
    chat.page.click("#settings-toggle")
    assert chat.page.get_attribute("#top_k", "max") == str(vocab_size)  # from ready.model, not index.html
    chat.page.fill("#top_k", str(vocab_size + 1))
    assert chat.page.text_content("#settings-error") == f"Top-k must be a whole number from 0 to {vocab_size}"
    chat.page.fill("#top_k", "40")
    assert chat.page.text_content("#settings-error") == ""
    chat.page.click("#settings-close")


def test_a_prompt_with_html_shows_literally_and_runs_nothing(chat, stack, artifacts):
    hostile = "<img src=x onerror=alert(1)>"
    chat.requests.clear()
    chat.settings(max_new_tokens=8)
    chat.ask(hostile)
    chat.shot(artifacts, "05-html-literal")
    users = chat.page.locator("#messages .msg.user .text").all_text_contents()
    assert users[-1] == hostile
    assert chat.page.locator("#messages img, #transcript img").count() == 0
    assert chat.dialogs == []
    assert not [u for u in chat.requests if urlsplit(u).path.endswith("/x")]


def test_a_reload_answers_from_the_cache_without_fetching_weights(chat, stack, artifacts, figures):
    kept = chat.page.locator("#messages .msg").count()
    chat.requests.clear()
    chat.page.reload()
    chat.page.locator(SETTLED).wait_for(timeout=BOOT_TIMEOUT)
    assert chat.state() == "ready", chat.page.text_content("#error-text")
    figures["reload_from_cache_s"] = timings(chat)
    fetched = [urlsplit(u).path for u in chat.requests if u.startswith(stack.model_origin)]
    assert fetched == ["/model/manifest.json"], fetched
    assert "cache" in chat.page.text_content("#status")
    # One cache, named by the manifest's SHA-256: a new manifest gets a new, empty one.
    caches, manifest_sha = chat.page.evaluate("""async (base) => {
        const bytes = await (await fetch(base + 'manifest.json', { cache: 'no-store' })).arrayBuffer();
        const hex = [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
        return [await caches.keys(), hex];
    }""", stack.model_base)
    assert [c for c in caches if c.startswith("icchat-model-")] == [f"icchat-model-{manifest_sha}"]
    # Conversations and settings survived the reload; the next answer works.
    assert chat.page.locator("#messages .msg").count() == kept
    assert chat.page.input_value("#max_new_tokens") == "8"
    answer = chat.ask("Still there?")
    assert answer["origin"] == "device" and answer["tokens"] > 0
    chat.shot(artifacts, "06-after-reload")


def test_f32_is_selectable_and_q8_comes_back_from_the_cache(chat, stack):
    f32, q8 = "/model/onnx/decoder_model_merged.onnx", "/model/onnx/decoder_model_merged_quantized.onnx"
    chat.requests.clear()
    chat.page.click("#settings-toggle")
    chat.page.check("input[name=precision][value=f32]")
    chat.page.click("#settings-close")
    chat.page.locator(READY).wait_for(timeout=BOOT_TIMEOUT)
    assert "f32" in chat.page.text_content("#status-text")
    chat.settings(temperature=0, max_new_tokens=12)
    answer = chat.ask("Which precision is this?")
    assert answer["origin"] == "device" and answer["tokens"] > 0
    assert f32 in [urlsplit(u).path for u in chat.requests]
    chat.requests.clear()
    chat.page.click("#settings-toggle")
    chat.page.check("input[name=precision][value=q8]")
    chat.page.click("#settings-close")
    chat.page.locator(READY).wait_for(timeout=BOOT_TIMEOUT)
    assert "q8" in chat.page.text_content("#status-text")
    assert q8 not in [urlsplit(u).path for u in chat.requests]  # verified bytes from the cache


def test_a_worker_crash_mid_answer_keeps_the_question_and_offers_a_restart(chat, artifacts):
    page = chat.page
    chat.settings(max_new_tokens=600, temperature=0.8)
    kept = page.locator("#messages .msg").count()
    page.fill("#prompt", "This answer will be cut short by a crash.")
    page.press("#prompt", "Enter")
    page.locator("#messages .msg.assistant[data-state=streaming]").wait_for(timeout=REPLY_TIMEOUT)
    worker = next(w for w in page.workers if w.url.endswith("/worker.js"))
    worker.evaluate("setTimeout(() => { throw new Error('simulated crash'); })")  # uncaught, in the worker
    page.locator("#error:not([hidden])").wait_for(timeout=REPLY_TIMEOUT)
    chat.shot(artifacts, "07-worker-crash")
    assert "simulated crash" in page.text_content("#error-text")
    assert page.input_value("#prompt") == "This answer will be cut short by a crash."
    assert page.locator("#messages .msg").count() == kept  # the unanswered question went back to the box
    assert page.is_visible("#error-restart")
    page.click("#error-restart")
    page.locator(READY).wait_for(timeout=BOOT_TIMEOUT)
    assert page.is_hidden("#error")
    page.fill("#prompt", "")
    chat.settings(max_new_tokens=8)
    assert chat.ask("Back again?")["tokens"] > 0


def test_phone_width_works(chat, artifacts):
    page = chat.page
    page.set_viewport_size({"width": 375, "height": 740})
    page.reload()
    page.locator(SETTLED).wait_for(timeout=BOOT_TIMEOUT)
    chat.shot(artifacts, "08-phone")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width
    assert page.is_visible("#prompt") and page.is_visible("#status")
    assert not page.is_visible("#sidebar .new-chat") or page.locator("#sidebar").bounding_box()["x"] < 0
    page.click("#menu")
    page.locator("body.sidebar-open").wait_for()
    page.wait_for_timeout(400)  # the drawer slides in
    chat.shot(artifacts, "09-phone-conversations")
    page.click("#sidebar-close")
    page.click("#settings-toggle")
    assert page.is_visible("#settings")
    box = page.locator("#settings").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 375
    chat.shot(artifacts, "10-phone-settings")
    page.click("#settings-close")
    answer = chat.ask("Short answer please", by_enter=False)
    assert answer["tokens"] > 0
    chat.shot(artifacts, "11-phone-answer")
    page.set_viewport_size({"width": 1200, "height": 820})


def test_the_canister_refuses_a_model_file_its_manifest_does_not_list(stack):
    reason = stack.upload_changed("onnx/decoder_model_merged_quantized.onnx")
    assert "model bundle refused" in reason and "onnx/decoder_model_merged_quantized.onnx has SHA-256" in reason


def test_a_model_file_tampered_in_flight_is_refused_with_a_clear_message(browser, stack, artifacts):
    path = "onnx/decoder_model_merged_quantized.onnx"
    context = browser.new_context(viewport={"width": 1200, "height": 820})
    stack.tamper_in_flight(context, path)
    try:
        chat = ChatPage(context, stack)
        chat.page.add_init_script("localStorage.setItem('icchat.draft.v1', JSON.stringify('my unsent words'))")
        chat.open()
        chat.shot(artifacts, "12-tampered")
        assert chat.state() == "error"
        message = chat.page.text_content("#error-text")
        assert path in message and "does not match" in message and "nothing was run" in message.lower()
        assert chat.page.is_disabled("#send")
        assert chat.page.input_value("#prompt") == "my unsent words"  # nothing typed is lost
        assert chat.page.is_visible("#error-restart")
    finally:
        context.close()


def test_a_manifest_tampered_in_flight_is_refused_as_not_certified(browser, stack, artifacts):
    context = browser.new_context(viewport={"width": 1200, "height": 820})
    stack.tamper_in_flight(context, "manifest.json")
    try:
        chat = ChatPage(context, stack)
        chat.page.add_init_script("localStorage.setItem('icchat.draft.v1', JSON.stringify('kept words'))")
        chat.open()
        chat.shot(artifacts, "13-manifest-tampered")
        assert chat.state() == "error"
        message = chat.page.text_content("#error-text")
        assert "the model's manifest is not the one the gpt2 canister certifies:" in message.lower(), message
        assert "manifest.json has SHA-256" in message
        # nothing the manifest lists was fetched, nothing runs
        fetched = [urlsplit(u).path for u in chat.requests if u.startswith(stack.model_origin)]
        assert fetched == ["/model/manifest.json"], fetched
        assert chat.page.is_disabled("#send")
        assert chat.page.input_value("#prompt") == "kept words"
    finally:
        context.close()


# Installed before the page's scripts: the texts of the user messages seen waiting for the model
# (data-state=pending) in this page load.
PENDING_SEEN = """
window.__pendingSeen = [];
new MutationObserver(() => {
  for (const node of document.querySelectorAll('#messages .msg.user[data-state=pending] .text')) {
    if (!window.__pendingSeen.includes(node.textContent)) window.__pendingSeen.push(node.textContent);
  }
}).observe(document, { subtree: true, childList: true, attributes: true });
"""


def _send_while_starting(chat, text: str) -> None:
    """Type and send `text` as soon as the page's scripts run, before it is ready."""
    assert chat.state() == "loading"
    chat.page.fill("#prompt", text)
    chat.page.press("#prompt", "Enter")


def test_a_message_sent_while_the_page_starts_waits_and_is_answered(browser, stack, artifacts):
    context = browser.new_context(viewport={"width": 1200, "height": 820})
    try:
        chat = ChatPage(context, stack)
        chat.page.add_init_script(PENDING_SEEN)
        users = chat.page.locator("#messages .msg.user")
        answers = chat.page.locator("#messages .msg.assistant")
        # Sent while the model loads: taken, shown waiting, the box emptied.
        chat.page.goto(stack.page_url)
        _send_while_starting(chat, "Hello before you are ready")
        pending = chat.page.locator("#messages .msg.user[data-state=pending]")
        assert pending.count() == 1 and pending.locator(".text").text_content() == "Hello before you are ready"
        assert "waiting for the model" in pending.text_content()
        assert chat.page.input_value("#prompt") == ""
        assert chat.page.is_visible("#stop") and "waits for the model" in chat.page.text_content("#hint")
        chat.shot(artifacts, "15-pending-while-loading")
        # answered on this device once ready, with no second press
        chat.wait_done(0)
        assert chat.last_answer()["origin"] == "device" and chat.last_answer()["tokens"] > 0
        assert users.count() == 1 and users.nth(0).get_attribute("data-state") == "done"

        # Sent while the page starts again, then the page reloaded: still there, waiting, answered.
        chat.page.reload()
        _send_while_starting(chat, "Still waiting after a reload?")
        chat.page.fill("#prompt", "A second one meanwhile")  # one waits at a time: this one stays in the box
        chat.page.press("#prompt", "Enter")
        assert users.count() == 2 and chat.page.input_value("#prompt") == "A second one meanwhile"
        assert "already waits" in chat.page.text_content("#hint")
        chat.page.fill("#prompt", "")
        chat.page.reload()
        assert chat.page.evaluate("window.__pendingSeen") == ["Still waiting after a reload?"]
        chat.wait_done(1)
        assert chat.last_answer()["origin"] == "device"
        assert users.count() == 2 and chat.page.locator("#messages .msg[data-state=pending]").count() == 0
        stored = chat.page.evaluate("JSON.parse(localStorage.getItem('icchat.conversations.v1'))")
        assert not any(m.get("pending") for c in stored["list"] for m in c["messages"])

        # Stop cancels a waiting message: it stays as the user's, unanswered, also once ready.
        chat.page.reload()
        _send_while_starting(chat, "Never mind")
        chat.page.click("#stop")
        assert users.nth(2).get_attribute("data-state") == "done" and users.nth(2).locator(".text").text_content() == "Never mind"
        assert chat.page.is_hidden("#stop")
        chat.page.locator(READY).wait_for(timeout=BOOT_TIMEOUT)
        assert answers.count() == 2 and users.count() == 3
        assert chat.errors == []
    finally:
        context.close()
