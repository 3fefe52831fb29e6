"""Headless Debian Chromium for `icchat bench page`: fresh contexts (a cold profile, nothing
cached) and persistent ones (a profile directory that keeps Cache Storage and the HTTP cache),
and the resident memory of the Chromium processes this benchmark started (sampled from /proc)."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from icchat.bench._host import chromium_missing, launch_persistent_chromium

MEASURE_MEMORY = "--enable-blink-features=ForceEagerMeasureMemory"


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(parent, []).append(int(entry.name))
    return tree


def chromium_rss_mib() -> dict[str, float]:
    """Resident memory of every Chromium process under this one, in MiB: total and renderers."""
    tree, stack, total, renderers = _children(), [os.getpid()], 0, 0
    while stack:
        pid = stack.pop()
        stack.extend(tree.get(pid, []))
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"chrom" not in cmdline.split(b"\0", 1)[0]:
                continue
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        rss = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
        total += rss
        if b"--type=renderer" in cmdline:
            renderers += rss
    return {"total": round(total / 1024, 1), "renderers": round(renderers / 1024, 1)}


class RssPeak:
    """Peak Chromium RSS while a block runs (sampled every 100 ms on a thread)."""

    def __init__(self) -> None:
        self.peak = {"total": 0.0, "renderers": 0.0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = chromium_rss_mib()
            self.peak = {k: max(self.peak[k], now[k]) for k in self.peak}
            time.sleep(0.1)

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class Browser:
    """Playwright's Chromium (launched by icchat.bench._host), one browser process tree at a time
    (so its RSS is the page's): `fresh()` = a new empty profile (nothing cached), `persistent(dir)`
    = a profile on disk whose caches (Cache Storage, HTTP, compiled code) survive closing it."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        if reason := chromium_missing():
            raise RuntimeError(f"icchat bench page {reason}")
        self.playwright = sync_playwright().start()
        self.profiles = Path(tempfile.mkdtemp(prefix="icchat-bench-profiles-"))

    def profile(self, name: str) -> Path:
        return self.profiles / name

    def fresh(self) -> Any:
        return self.persistent(Path(tempfile.mkdtemp(dir=self.profiles, prefix="fresh-")))

    def persistent(self, profile: Path) -> Any:
        return launch_persistent_chromium(self.playwright, profile, MEASURE_MEMORY)

    def close(self) -> None:
        self.playwright.stop()
        shutil.rmtree(self.profiles, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def console_to(page: Any, lines: list[str]) -> None:
    """Keep the page's console and errors (the last ones explain a failed run)."""
    page.on("console", lambda m: lines.append(f"{m.type}: {m.text[:300]}"))
    page.on("pageerror", lambda e: lines.append(f"pageerror: {e}"))


def wait_until(page: Any, expression: str, timeout_s: float, what: str) -> None:
    """Wait until a JS expression is true, checked inside the page every 100 ms in one call:
    polling it from here (a DevTools round trip every 50 ms, and the driver's own work) took CPU
    from the page being measured. The expression is part of the evaluated source, not eval'd:
    the page's CSP forbids eval, so no wait_for_function."""
    checker = f"""() => new Promise((resolve) => {{
      const deadline = performance.now() + {timeout_s * 1000:.0f};
      const check = () => {{
        if ({expression}) resolve(true);
        else if (performance.now() > deadline) resolve(false);
        else setTimeout(check, 100);
      }};
      check();
    }})"""
    if not page.evaluate(checker):
        raise RuntimeError(f"timed out after {timeout_s:.0f} s waiting for {what}")
