"""A real `icchat replica start` process to hurt: started, SIGKILLed at a chosen moment, restarted
from its state directory on the same port; and the record of what each fault scenario checked.

The kill hooks are deterministic: `kill_when(predicate)` polls a condition on disk or on the
client (e.g. "the deploy journal holds N accepted chunks") from a thread and SIGKILLs the replica
the moment it holds, so the replica dies between two messages of the client's choosing, never
after a sleep.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.gateway import gateway_get

from icchat.ic.principal import Principal
from icchat.paths import REPO
from icchat.stack import replica_process


class FaultCheckFailed(AssertionError):
    pass


@dataclass
class ScenarioRecord:
    """What one fault scenario checked and how it went: `check` raises FaultCheckFailed on the first
    check that fails; `figures` keeps what the scenario observed (chunks accepted, seconds to recover)."""

    scenario: str
    fault: str
    checks: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    outcome: str = "running"

    def check(self, what: str, ok: bool, detail: Any = None) -> None:
        entry: dict[str, Any] = {"check": what, "ok": bool(ok)}
        if detail is not None:
            entry["detail"] = detail
        self.checks.append(entry)
        if not ok:
            self.outcome = "failed"
            raise FaultCheckFailed(f"{self.scenario}: {what}" + (f" ({detail})" if detail is not None else ""))

    def done(self) -> ScenarioRecord:
        self.outcome = "survived"
        return self


class LiveReplica:
    """`icchat replica start` in the background (icchat.stack.replica_process), state in `root`."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = Path(root), port
        self.pid: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Start (or restart from the state directory); seconds until /api/v2/status answers."""
        started = time.monotonic()
        self.pid = replica_process.start(self.root, self.port).pid
        return time.monotonic() - started

    def kill(self) -> None:
        """SIGKILL: no signal handler runs, no final checkpoint is written."""
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        _reap(pid)

    def stop(self) -> None:
        pid = self.pid
        replica_process.stop(self.root)
        self.pid = None
        if pid is not None:
            _reap(pid)

    def agent(self, identity: Any = None) -> Any:
        from icchat.ic.agent import Agent

        agent = Agent(self.url, identity)
        agent.fetch_root_key()
        return agent

    def kill_when(self, predicate: Callable[[], bool], timeout_s: float = 120.0) -> threading.Event:
        """SIGKILL the replica from a thread as soon as `predicate()` holds; the event is set once
        it was killed (never set if the predicate did not hold within the timeout)."""
        killed = threading.Event()

        def watch() -> None:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                if predicate():
                    self.kill()
                    killed.set()
                    return
                time.sleep(0.002)

        threading.Thread(target=watch, name="icchat-fault-killer", daemon=True).start()
        return killed


def _reap(pid: int) -> None:
    """Wait for our child to exit (it is one: replica_process.start spawned it)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return  # not our child (or already reaped): wait until it is gone
        if done:
            return
        time.sleep(0.01)


def icchat(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the `icchat` CLI in a child process, as a user would."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "py"), PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "-m", "icchat", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def journal_chunks(path: Path) -> int:
    """Chunks a deploy journal records as accepted (0 when it does not exist)."""
    try:
        return max(0, len(path.read_bytes().splitlines()) - 1)
    except OSError:
        return 0


def canister_get(port: int, canister_id: Principal, path: str, timeout: float = 60) -> tuple[int, dict[str, str], bytes]:
    """GET through the replica's HTTP gateway (which verifies the canister's certification)."""
    return gateway_get(port, f"{canister_id}.localhost", path, timeout)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- steps the scenarios share ---------------------------------------------------------------------


def identity_pem(root: Path) -> tuple[Any, Path]:
    from icchat.ic.identity import load_or_create

    pem = root / "identity.pem"
    return load_or_create(pem), pem


def create_and_install(replica: LiveReplica, identity: Any, wasm: bytes) -> Principal:
    from icchat.ic import management
    from icchat.stack.install import install as install_module

    agent = replica.agent(identity)
    canister_id = management.create_canister(agent, controllers=[identity.principal])
    install_module(agent, canister_id, wasm, "install")
    return canister_id


def assets_wasm() -> bytes:
    from icchat.build.assets import build_assets_wasm

    return Path(build_assets_wasm()).read_bytes()


def deploy_args(replica: LiveReplica, canister_id: Principal, pem: Path, journal: Path) -> list[str]:
    return ["--canister", str(canister_id), "--network", replica.url, "--identity", str(pem),
            "--journal", str(journal)]


def one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip() and "\r" not in line]
    return lines[-1] if lines else ""
