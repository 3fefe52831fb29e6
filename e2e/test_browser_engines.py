"""The page in the three browser engines, each from Debian: Chromium (Blink), Firefox ESR (Gecko)
and WebKitGTK (WebKit, Safari's engine), driven through tests/support/engines.py against the stack
whose gpt2 canister runs q8, as `icchat up`'s does. In each: the page starts, answers on this device
(or states its fallback), answers onchain, answers through the LLM service (the route canister,
the "llm" stand-in and `icchat serve`, as `icchat up` started them), answers again after a reload
(the model from the browser's cache where the browser keeps one), and fits a phone-wide window.

Each engine boots the page once (the `page` fixture is module-scoped per engine) and the tests run
in order on it; the on-device engine is the icchat engine (auto would time both engines while idle
and might change it mid-test). Screenshots of every step: build/e2e-artifacts/engines/. What each
engine got (the page's #about[data-features], the browser's version, the seconds it took) goes to
build/e2e-artifacts/engines.json, and the README's table of engines must say the same.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest
from support.engines import ENGINES, Browser, launch, require

from icchat.paths import REPO
from icchat.stack import serve_process

BOOT_S = 240.0  # WebKitGTK boots Pyodide and the model on one thread
REPLY_S = 120.0
PHONE = (390, 844)
DESKTOP = (1200, 820)
LABELS = {"chromium": "Chromium", "firefox": "Firefox ESR", "webkit": "WebKitGTK"}
SERVICE = "llm-service"  # the fourth position: the route canister -> the "llm" stand-in -> `icchat serve`
ORIGIN_LABELS = {"device": "on this device", "onchain-fast": "onchain · fast", SERVICE: "LLM service via canister"}
PROBE = "e2e-cache-probe"  # a Cache Storage entry of the test's own, to see whether a reload keeps it
# Before the page starts: the icchat engine, short answers.
PRESETS = {"icchat.prefs.v1": {"engine": "icchat"}, "icchat.settings.v1": {"max_new_tokens": 8}}

FEATURES = "JSON.parse(document.querySelector('#about').dataset.features || 'null')"
# The page once the on-device model runs, or once it says the device cannot run it (not merely
# the first `ready`, which may come while the model still loads); or the error it stopped on.
DEVICE_SETTLED = f"""(() => {{
  if (document.body.dataset.state === 'error') return {{ error: document.querySelector('#error-text').textContent }};
  const features = {FEATURES};
  if (document.body.dataset.state !== 'ready' || !features) return null;
  const note = document.querySelector('#device-note');
  const said = !note.hidden && !/still loading/.test(note.textContent);
  return features.engine || said ? {{ features, timings: JSON.parse(document.querySelector('#about').dataset.timings || '{{}}') }} : null;
}})()"""
DONE = "document.querySelectorAll('#messages .msg.assistant[data-state=done]').length"
LAST_ANSWER = """(() => {
  const m = [...document.querySelectorAll('#messages .msg.assistant')].pop();
  return { origin: m.dataset.origin, tokens: Number(m.dataset.tokens), text: m.querySelector('.text').textContent,
           meta: m.querySelector('.meta')?.textContent ?? '', who: m.querySelector('.who').textContent,
           model: m.dataset.model ?? null, via: m.dataset.via ?? null, calls: Number(m.dataset.calls ?? 0),
           cycles: Number(m.dataset.cycles ?? 0), instructions: Number(m.dataset.instructions ?? 0) };
})()"""
TEXT = "document.querySelector({selector}).textContent.replace(/\\s+/g, ' ').trim()"
# the transcript scrolled to its end (it scrolls smoothly): the newest answer's meta in view
SCROLLED = "(t => t.scrollTop + t.clientHeight >= t.scrollHeight - 1)(document.querySelector('#transcript'))"


class EnginePage:
    """The chat page in one engine, as a user drives it."""

    def __init__(self, browser: Browser, page_url: str, shots: Path) -> None:
        self.browser, self.page_url, self.shots = browser, page_url, shots
        self.started = time.monotonic()
        self.features: dict | None = None
        self.cache_kept: bool | None = None  # Cache Storage survives a reload (measured by the reload test)

    def open(self) -> dict:
        """The page's first start in this browser, with PRESETS: -> {features, timings}."""
        # presets go in on the page's origin before its scripts run: a plain file from it first
        self.browser.open(urljoin(self.page_url, "protocol.mjs"))
        for key, value in PRESETS.items():
            self.browser.evaluate(f"localStorage.setItem({json.dumps(key)}, {json.dumps(json.dumps(value))})")
        self.browser.open(self.page_url)
        return self.settled()

    def settled(self) -> dict:
        got = self.browser.wait_until(DEVICE_SETTLED, BOOT_S, "the on-device model ready (or its fallback stated)")
        assert "error" not in got, got["error"]
        self.features = got["features"]
        return got

    def text(self, selector: str) -> str:
        return self.browser.evaluate(TEXT.format(selector=json.dumps(selector)))

    def visible(self, selector: str) -> bool:
        return self.browser.evaluate(f"""(() => {{
            const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();
            return r.width > 0 && r.height > 0 && r.left >= 0 && r.top >= 0 && r.right <= innerWidth && r.bottom <= innerHeight;
        }})()""")

    def switch(self, backend: str) -> None:
        selector = f"#where input[value={backend}]"
        position = f"document.querySelector({json.dumps(selector)})"
        # the LLM service's position is offered once the worker reached the route canister
        self.browser.wait_until(f"!{position}.disabled && !{position}.closest('label').hidden", REPLY_S,
                                f"the {backend} position offered")
        self.browser.click(selector)
        assert self.browser.evaluate(f"{position}.checked")

    def ask(self, text: str) -> dict:
        """Type, press Enter, wait for the answer, scrolled into view: -> the newest answer's origin,
        text, meta, signature and its numbers (tokens; the LLM service's model, via, calls, cycles)."""
        done = self.browser.evaluate(DONE)
        self.browser.type_and_enter("#prompt", text)
        self.browser.wait_until(f"{DONE} > {done}", REPLY_S, f"the answer to {text!r}")
        self.browser.wait_until(SCROLLED, 5, "the transcript scrolled to the answer")
        return self.browser.evaluate(LAST_ANSWER)

    def answered(self, text: str, origin: str, step: str) -> None:
        """Ask `text`; the answer came from `origin` and says so. Screenshot: `step`."""
        answer = self.ask(text)
        self.shot(step)
        assert answer["origin"] == origin and answer["tokens"] > 0, answer
        assert ORIGIN_LABELS[origin] in answer["meta"], answer

    def shot(self, step: str) -> None:
        self.browser.screenshot(self.shots / f"{self.browser.name}-{step}.png")


@pytest.fixture(scope="session")
def engine_report(artifacts) -> Iterator[dict]:
    """engine -> what it got in this run; engines.json at the end (only the engines that ran)."""
    report: dict = {}
    yield report
    if report:
        (artifacts / "engines.json").write_text(json.dumps(report, indent=2) + "\n")


@pytest.fixture(scope="module", params=ENGINES)
def page(request, q8_stack, artifacts, engine_report) -> Iterator[EnginePage]:
    shots = artifacts / "engines"
    shots.mkdir(exist_ok=True)
    require(request.param)  # a missing browser fails here, naming its package (never a skip)
    chromium = request.getfixturevalue("browser") if request.param == "chromium" else None
    with launch(request.param, logs=shots, chromium=chromium) as browser:
        browser.set_viewport(*DESKTOP)
        chat = EnginePage(browser, q8_stack.page_url, shots)
        yield chat
        engine_report[browser.name] = {"version": browser.version, "features": chat.features,
                                       "cache_kept_across_reload": chat.cache_kept,
                                       "seconds": round(time.monotonic() - chat.started, 1)}


def test_starts_and_says_what_it_runs(page):
    got = page.open()
    page.shot("ready")
    features = got["features"]
    assert features["simd"], features  # every engine here runs WebAssembly SIMD
    assert features["threads"] == 1 or features["shared_memory"], features  # threads share memory
    if features["engine"] is None:  # onchain only: the page says why
        assert "onchain only" in page.text("#status-text")
        assert "cannot run the model" in page.text("#device-note-text")
        return
    assert features["engine"] == "icchat" and features["threads"] >= 1, features
    # the q8 product: relaxed only where the browser has relaxed SIMD (else SIMD128)
    assert features["kernel"] in (("relaxed", "simd128") if features["relaxed_simd"] else ("simd128",)), features
    thread_word = "1 thread" if features["threads"] == 1 else f"{features['threads']} threads"
    assert f"icchat engine · {thread_word}" in page.text("#status-text")
    assert got["timings"]["networkBytes"] > 0  # a fresh browser: the model came over the network


def test_answers_on_this_device_or_states_the_fallback(page):
    if page.features["engine"] is None:
        assert page.visible("#device-note-onchain")  # the way on the page offers instead
        return
    page.answered("Hello from a browser engine", "device", "device-answer")


def test_answers_onchain(page):
    page.switch("onchain-fast")
    page.answered("And now onchain?", "onchain-fast", "onchain-answer")


def test_answers_via_the_llm_service(page, q8_stack):
    served = serve_process.running(q8_stack.state_dir)
    assert served is not None  # `icchat up` started it
    # the fourth position names the route's model: the bundle `icchat serve` serves
    assert page.text("#where-service") == f"LLM service (via canister) · {served.model}"
    page.switch(SERVICE)
    answer = page.ask("And through the LLM service?")
    page.shot("llm-service-answer")
    via = f"LLM canister {q8_stack.info.llm}"
    assert answer["origin"] == SERVICE and answer["text"], answer  # the answer comes whole
    assert answer["model"] == served.model and answer["via"] == via, answer
    assert answer["calls"] == 1 and answer["cycles"] > 0 and answer["instructions"] > 0, answer
    assert ORIGIN_LABELS[SERVICE] in answer["meta"] and f"via {via}" in answer["meta"] and "cycles" in answer["meta"], answer
    assert answer["who"] == served.model  # signed with the service's model, not the page's GPT-2


def test_a_reload_answers_from_the_cache(page):
    page.switch("device")
    before = page.features
    page.browser.evaluate(f"caches.open('{PROBE}').then((c) => c.put('/{PROBE}', new Response('kept')))")
    page.browser.reload()
    got = page.settled()
    page.shot("reload")
    # whether this browser keeps Cache Storage across a reload at all, apart from the page
    page.cache_kept = page.browser.evaluate(f"caches.open('{PROBE}').then((c) => c.match('/{PROBE}')).then(Boolean)")
    page.browser.evaluate(f"caches.delete('{PROBE}')")
    # the same engine and threads as the first start (the q8 product is timed again: either may win)
    assert {**got["features"], "kernel": None} == {**before, "kernel": None}
    if before["engine"] is None:
        return
    if page.cache_kept:
        assert got["timings"]["networkBytes"] == 0, got["timings"]  # no model file downloaded again
        assert "model from cache" in page.text("#status-detail")
    else:  # the browser dropped the cache (WebKit's in-memory one): the page says it downloaded
        assert got["timings"]["networkBytes"] > 0, got["timings"]
        assert "downloaded" in page.text("#status-detail")
    page.answered("Still there after a reload?", "device", "reload-answer")


def test_a_phone_wide_window_fits(page):
    page.browser.set_viewport(*PHONE)
    assert page.browser.evaluate("[innerWidth, innerHeight]") == list(PHONE)
    # the conversations slide out of the way, behind the menu button
    page.browser.wait_until("document.querySelector('#sidebar').getBoundingClientRect().right <= 0", 5,
                            "the conversations drawer closed at phone width")
    page.shot("phone")
    width = page.browser.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE[0], width  # nothing wider than the screen
    assert page.visible("#prompt") and page.visible("#send")  # the composer, on screen
    assert page.visible("#menu")  # the conversations behind the menu button
    assert page.visible("#status")


# --- the README's table of engines ----------------------------------------------------------


def table_row(features: dict, cache_kept: bool) -> list[str]:
    """The README's cells for what an engine got (after the engine's name)."""
    yes = {True: "yes", False: "no"}
    threads = {0: "none", 1: "1"}.get(features["threads"], "2 to 4, by cores")
    engine = features["engine"]
    if engine != "icchat":
        kernel = "—"
    else:
        kernel = "relaxed or SIMD128, the faster" if features["relaxed_simd"] else "SIMD128"
    fallback = [
        *(["one thread (no SharedArrayBuffer)"] if not features["shared_memory"] else []),
        *(["SIMD128 (no relaxed SIMD)"] if engine and not features["relaxed_simd"] else []),
        *(["onchain only"] if not engine else []),
    ]
    return [yes[features["shared_memory"]], threads, yes[features["simd"]], yes[features["relaxed_simd"]],
            f"{engine} engine" if engine else "none", kernel, "; ".join(fallback) or "—", yes[cache_kept]]


def readme_rows() -> dict[str, list[str]]:
    """The README's table of engines: the first cell's engine name -> the other cells."""
    text = (REPO / "README.md").read_text()
    table = text[text.index("| browser engine |"):].split("\n\n")[0]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in table.splitlines()[2:]]
    return {re.sub(r"\s*\(.*", "", row[0]): row[1:] for row in rows}


def test_the_readme_says_what_this_engine_got(page):
    assert page.features is not None and page.cache_kept is not None, "the tests before this one did not run"
    assert readme_rows()[LABELS[page.browser.name]] == table_row(page.features, page.cache_kept)
