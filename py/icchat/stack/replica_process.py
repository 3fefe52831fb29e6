"""The local replica as a background process: started once, found again, stopped on request.

The replica runs `icchat replica start` detached from the terminal (its own session), logs to
.state/replica.log and records its pid and port in .state/replica.pid. "Running" means the pid is
alive AND the port answers /api/v2/status, so a stale pid file or a foreign server on the port is
never mistaken for our replica.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from icchat.errors import UserError
from icchat.stack.background import alive, spawn, terminate

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ReplicaProcess:
    pid: int
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _pid_file(state: Path) -> Path:
    return state / "replica.pid"


def status_answers(port: int, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/status", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def running(state: Path) -> ReplicaProcess | None:
    """The replica recorded in `state`, if it is alive and answering."""
    try:
        record = json.loads(_pid_file(state).read_text())
        process = ReplicaProcess(int(record["pid"]), int(record["port"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if alive(process.pid) and status_answers(process.port):
        return process
    return None


def start(state: Path, port: int) -> ReplicaProcess:
    """Start the replica in the background (or return the one already running)."""
    current = running(state)
    if current is not None:
        if current.port != port:
            raise UserError(f"the local replica already runs on port {current.port}; "
                            f"stop it with `icchat down` to use port {port}")
        return current
    if status_answers(port):
        raise UserError(f"port {port} is taken by another server (not this checkout's replica); "
                        f"stop it or pass --port")
    state.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "icchat", "replica", "start", "--port", str(port),
               "--state-dir", str(state / "replica")]
    pid = spawn(command, state / "replica.log", lambda: status_answers(port), START_TIMEOUT_S,
                f"the local replica (port {port})")
    _pid_file(state).write_text(json.dumps({"pid": pid, "port": port}))
    return ReplicaProcess(pid, port)


def stop(state: Path) -> ReplicaProcess | None:
    """Stop the recorded replica (SIGTERM: it saves its state), and forget it. None if none ran."""
    pid_file = _pid_file(state)
    try:
        record = json.loads(pid_file.read_text())
        process = ReplicaProcess(int(record["pid"]), int(record["port"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    terminate(process.pid, STOP_TIMEOUT_S)
    pid_file.unlink(missing_ok=True)
    return process

