"""Our page, measured through itself: `icchat up`'s stack (the local replica, the page from the
asset canister, the model from the gpt2 canister through the HTTP gateway) in its own state
directory and port, and the page driven like a user in Chromium.

The timings are the page's own: an init script (below) wraps `window.Worker` before app.js runs
and stamps every message between the page and its chat worker with `performance.now()`:
each `delta` carries the reply's stats, whose `seconds` is the worker's own clock (since the
reply started in Python): the first = the prompt pass (+ the first token's sampling), the gaps
= one generated token each; `ready`'s `timings` = the start-up phases the worker measured. The same script asks the worker for a thread count (`init.threads`) and sets the
page's settings (greedy, max_new_tokens), precision and on-device engine in localStorage.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

from icchat.bench._host import LocalStack

BOOT_TIMEOUT_S = 600

RECORDER = """
(() => {
  const config = %s;
  localStorage.setItem("icchat.settings.v1", JSON.stringify({temperature: 0, top_k: 0, top_p: 1,
    max_new_tokens: config.max_new_tokens, seed: 0}));
  localStorage.setItem("icchat.prefs.v1", JSON.stringify({backend: "device", precision: config.precision, engine: config.engine}));
  localStorage.removeItem("icchat.conversations.v1");
  localStorage.removeItem("icchat.draft.v1");
  const rec = window.__bench = {events: []};
  const Native = window.Worker;
  window.Worker = class extends Native {
    constructor(url, options) {
      super(url, options);
      if (!String(url).endsWith("/worker.js")) return;
      this.addEventListener("message", ({data}) => {
        const t = performance.now();
        if (data.type === "delta") rec.events.push({type: "delta", t, n: data.tokens.length, tokens: data.tokens, run_ms: data.stats?.run_ms, seconds: data.stats?.seconds, prompt_tokens: data.stats?.prompt_tokens});
        else if (["ready", "done", "error"].includes(data.type)) rec.events.push({...data, t});
      });
      const post = this.postMessage.bind(this);
      this.postMessage = (message, transfer) => {
        if (message?.type === "init") message = {...message, threads: config.threads};
        if (message?.type === "generate") rec.events.push({type: "generate", t: performance.now()});
        return transfer ? post(message, transfer) : post(message);
      };
    }
  };
})();
"""


class PageStack(LocalStack):
    """`icchat up` in a temporary state directory (never the developer's .state/), timed."""

    def __init__(self, bundle: Path, log: Any = print) -> None:
        super().__init__(bundle, onchain_dtype="q8")
        self.say = log

    def start(self) -> PageStack:
        start = time.perf_counter()
        super().start()
        self.up_seconds = time.perf_counter() - start
        self.say(f"  local stack up in {self.up_seconds:.0f} s: {self.info.page_url}")
        return self


def _events(page: Any) -> list[dict[str, Any]]:
    return page.evaluate("window.__bench.events")


def open_page(context: Any, stack: PageStack, precision: str, threads: int, max_new_tokens: int,
              console: list[str], engine: str = "onnxruntime-web") -> tuple[Any, dict[str, Any], float]:
    """Open the page and wait until its on-device model is ready: (page, ready message, seconds).
    engine: the page's on-device engine setting ("onnxruntime-web" or "icchat")."""
    from icchat.bench._page_browser import console_to, wait_until

    config = {"precision": precision, "threads": threads, "max_new_tokens": max_new_tokens, "engine": engine}
    context.add_init_script(RECORDER % json.dumps(config))
    page = context.new_page()
    console_to(page, console)
    page.goto(stack.page_url)
    # the first `ready` may come with the device model still loading (onchain answers first)
    wait_until(page, "window.__bench.events.some(e => (e.type === 'ready' && !e.device?.loading) || (e.type === 'error' && e.fatal))",
               BOOT_TIMEOUT_S, "the page to be ready")
    ready = next(e for e in _events(page) if (e["type"] == "ready" and not e["device"].get("loading")) or e["type"] == "error")
    if ready["type"] == "error":
        raise RuntimeError(f"the page did not start: {ready.get('message')}")
    if "device" not in ready.get("backends", []):
        raise RuntimeError(f"the page cannot answer on this device: {ready.get('device')}")
    return page, ready, ready["t"] / 1000


def ask(page: Any, text: str, timeout_ms: int = 600_000) -> dict[str, Any]:
    """Send `text`, wait for the answer; the page's own timings of it."""
    from icchat.bench._page_browser import wait_until

    before = len(_events(page))
    page.locator("body[data-state=ready]").wait_for(timeout=timeout_ms)
    page.fill("#prompt", text)
    page.press("#prompt", "Enter")
    wait_until(page, f"window.__bench.events.slice({before}).some(e => e.type === 'done' || e.type === 'error')",
               timeout_ms / 1000, "the answer")
    events = _events(page)[before:]
    failed = [e for e in events if e["type"] == "error"]
    if failed:
        raise RuntimeError(f"the page's answer failed: {failed[0].get('message')}")
    deltas = [e for e in events if e["type"] == "delta"]
    done = next(e for e in events if e["type"] == "done")
    # The worker's own clock: each delta's stats.seconds = time since the reply started in Python
    # (the page's main thread may receive several deltas at once).
    stamps = [0.0] + [d["seconds"] * 1000 for d in deltas]
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    runs = [d["run_ms"] for d in deltas]
    sent = next(e["t"] for e in events if e["type"] == "generate")
    return {"prefill_ms": gaps[0] if gaps else None, "step_ms": gaps[1:],
            "first_delta_after_send_ms": deltas[0]["t"] - sent if deltas else None,
            "run_ms": [b - a for a, b in itertools.pairwise(runs)],
            "tokens": [t for d in deltas for t in d["tokens"]],
            "prompt_tokens": deltas[0]["prompt_tokens"] if deltas else None,
            "stop_reason": done.get("stop_reason")}


def decode(browser: Any, stack: PageStack, profile: Path, precision: str, threads: int, text: str,
           new_tokens: int, engine: str = "onnxruntime-web") -> dict[str, Any]:
    """One decode run in the page (a fresh page in the benchmark's persistent profile, so the
    weights come from Cache Storage after the first run)."""
    console: list[str] = []
    context = browser.persistent(profile)
    try:
        page, ready, _ = open_page(context, stack, precision, threads, new_tokens, console, engine)
        if ready.get("engine") not in (None, engine):
            raise RuntimeError(f"the page runs {ready.get('engine')}, not {engine}")
        if ready.get("threads") != threads:
            raise RuntimeError(f"the page runs {ready.get('threads')} threads, not {threads}")
        from icchat.bench._page_browser import RssPeak

        with RssPeak() as rss:
            answer = ask(page, text)
        return answer | {"threads": ready.get("threads"), "peak_chromium_rss_mib": rss.peak}
    except Exception as error:
        raise RuntimeError(f"{error}; console: {console[-5:]}") from None
    finally:
        context.close()


SNAPSHOT_MADE = """async () => (await caches.has("icchat-python-snapshot"))
    && (await (await caches.open("icchat-python-snapshot")).keys()).length > 0"""
SNAPSHOT_WAIT_S = 120


def first_token(browser: Any, stack: PageStack, profile: Path | None, precision: str, threads: int,
                text: str, engine: str = "onnxruntime-web", stay_for_snapshot: bool = False) -> dict[str, Any]:
    """Time to first token of a page load: profile None = a fresh profile (cold), else that
    persistent profile (warm if a load before filled its caches). Start-up phases in seconds
    since the worker started (they overlap: Python boots while the weights load).
    stay_for_snapshot: keep the page open, idle, until it has made its interpreter snapshot (as a
    visit of a few seconds does), so the next load of this profile is a returning user's."""
    from icchat.bench._page_browser import RssPeak

    console: list[str] = []
    context = browser.fresh() if profile is None else browser.persistent(profile)
    try:
        page, ready, ready_s = open_page(context, stack, precision, threads, 4, console, engine)
        with RssPeak() as rss:
            answer = ask(page, text)
        if stay_for_snapshot:
            deadline = time.monotonic() + SNAPSHOT_WAIT_S
            while not page.evaluate(SNAPSHOT_MADE) and time.monotonic() < deadline:
                time.sleep(0.5)
        t = ready.get("timings", {})
        first = answer["first_delta_after_send_ms"] / 1000  # send -> the first token on the page
        return {"ready_s": round(ready_s, 3), "first_token_after_send_s": round(first, 3),
                "time_to_first_token_s": round(ready_s + first, 3),
                "phases_s": {"pyodide_boot": t.get("python"), "runtime_install": t.get("ort"),
                             "manifest_certified": t.get("manifest"), "weight_fetch_and_hash": t.get("download"),
                             "session_creation": t.get("session"), "python_ready": t.get("pythonReady"),
                             "worker_total": t.get("total"), "first_token": round(first, 3)},
                "network_bytes": t.get("networkBytes"), "python_from": t.get("pythonFrom"),
                "peak_chromium_rss_mib": rss.peak}
    except Exception as error:
        raise RuntimeError(f"{error}; console: {console[-5:]}") from None
    finally:
        context.close()


def memory(browser: Any, stack: PageStack, precision: str, threads: int, text: str,
           new_tokens: int) -> dict[str, Any]:
    """Peak memory while the page generates: Chromium's processes' RSS (sampled), the page's
    own performance.measureUserAgentSpecificMemory() (page + its workers, cross-origin isolated)
    and CDP Performance.getMetrics (the page's main-thread JS heap)."""
    from icchat.bench._page_browser import RssPeak, chromium_rss_mib

    console: list[str] = []
    context = browser.fresh()
    try:
        before = chromium_rss_mib()
        page, _, _ = open_page(context, stack, precision, threads, new_tokens, console)
        loaded = chromium_rss_mib()
        with RssPeak() as rss:
            ask(page, text)
        ua = page.evaluate("""async () => {
            if (!self.crossOriginIsolated || !performance.measureUserAgentSpecificMemory) return null;
            const t = new Promise((r) => setTimeout(() => r(null), 10000));
            const m = await Promise.race([performance.measureUserAgentSpecificMemory(), t]);
            return m ? m.bytes : null;
        }""")
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        return {"chromium_rss_before_mib": before, "chromium_rss_ready_mib": loaded,
                "chromium_rss_peak_generating_mib": rss.peak,
                "ua_specific_memory_mib": round(ua / 2**20, 1) if ua else None,
                "cdp_js_heap_used_mib": round(metrics.get("JSHeapUsedSize", 0) / 2**20, 1),
                "cdp_js_heap_total_mib": round(metrics.get("JSHeapTotalSize", 0) / 2**20, 1)}
    except Exception as error:
        raise RuntimeError(f"{error}; console: {console[-5:]}") from None
    finally:
        context.close()
