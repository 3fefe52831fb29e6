"""What a benchmark or a test runs the stack in on this machine: Debian Chromium (launched one way,
offline), a free loopback port, the tiny seeded bundle and `icchat up` in a state directory of its
own. The benchmarks use it directly; tests/support and e2e/ build their fixtures on it (the package
never imports from tests/, so the one copy lives here).

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
    with LocalStack(tiny_bundle(), onchain_dtype="q8") as stack:
        stack.info.page_url
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from icchat.paths import BUILD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # Offline for real: every name fails to resolve except the loopback ones the stack uses
    # (Chromium resolves *.localhost to loopback itself).
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE *.localhost , EXCLUDE 127.0.0.1",
]
TINY_BUNDLE_CACHE = BUILD / "e2e-model" / "tiny-s0"


def chromium_missing() -> str | None:
    """Why Chromium cannot run here (None: it can)."""
    return None if CHROMIUM.exists() else f"needs Debian Chromium ({CHROMIUM})"


def launch_chromium(playwright: Any, *extra_args: str) -> Any:
    """Headless Chromium from Playwright's sync API, with the arguments every run uses."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args])


def launch_persistent_chromium(playwright: Any, profile: Path, *extra_args: str) -> Any:
    """A browser context on a profile directory whose caches survive closing it."""
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args], headless=True)


def free_port() -> int:
    """A loopback TCP port free at the moment of asking (for a server about to start on it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiny_bundle() -> Path:
    """The tiny seeded bundle (2 layers, 128 wide), exported once and reused while it verifies."""
    from icchat.model.export import cached_seeded_bundle

    return cached_seeded_bundle(TINY_BUNDLE_CACHE)


class LocalStack:
    """`icchat up` (icchat.stack.up) in a state directory and on a port of its own, never the
    developer's .state/; taken down by `stop()`. `state_dir` None: a temporary directory, removed
    on stop. `onchain_dtype`: the gpt2 canister's weight file (q8 or f32)."""

    def __init__(self, bundle: Path, state_dir: Path | None = None, onchain_dtype: str = "q8",
                 log: Callable[[str], None] = lambda _: None) -> None:
        self.bundle, self.onchain_dtype, self.log = Path(bundle), onchain_dtype, log
        self._temporary = state_dir is None
        self.state_dir = Path(tempfile.mkdtemp(prefix="icchat-stack-")) if state_dir is None else Path(state_dir)
        self.info: Any = None

    def start(self) -> LocalStack:
        from icchat.stack.up import UpOptions, up

        try:
            self.info = up(UpOptions(model=str(self.bundle), port=free_port(), onchain_dtype=self.onchain_dtype,
                                     state_dir=self.state_dir, log=self.log))
        except BaseException:
            self.stop()  # a replica started before the failure must not outlive the caller
            raise
        return self

    def stop(self) -> None:
        from icchat.stack.up import down

        down(self.state_dir, log=lambda _: None)
        if self._temporary:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def page_url(self) -> str:
        return self.info.page_url

    @property
    def replica_pid(self) -> int | None:
        """The replica process's id (None when it is not running)."""
        from icchat.stack import replica_process

        process = replica_process.running(self.state_dir)
        return process.pid if process else None

    def controller(self) -> Any:
        """An agent signing as the stack's controller (the identity `icchat up` made in state_dir)."""
        from icchat.stack.up import _agent

        return _agent(self.info.replica_url, self.state_dir)
