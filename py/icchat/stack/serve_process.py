"""`icchat serve` as the local stack's LLM service: a child process on a free port, found again,
stopped by `icchat down`.

It serves the bundle the stack deployed (the page's model), so the LLM service position answers
offline with all real parts: the route canister -> the "llm" stand-in -> an HTTP outcall from the
replica -> this process. It logs to .state/serve.log and records its pid, port and bundle in
.state/serve.pid; "running" means the pid is alive AND GET /v1/models answers with that bundle's
model, so a stale pid file or a foreign server on the port is never taken for ours.
"""

from __future__ import annotations

import json
import socket
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from icchat.stack.background import alive, spawn, terminate

START_TIMEOUT_S = 120.0  # the first start may load onnxruntime and the model
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ServeProcess:
    pid: int
    port: int
    model: str  # what clients ask for: the bundle directory's last part

    @property
    def completions_url(self) -> str:
        """What the "llm" stand-in canister is pointed at (an outcall goes there)."""
        return f"http://127.0.0.1:{self.port}/v1/chat/completions"


def model_id(bundle: Path) -> str:
    """The name `icchat serve` serves a bundle directory as (icchat.cli.serve)."""
    return bundle.resolve().name


def _pid_file(state: Path) -> Path:
    return state / "serve.pid"


def serves(port: int, model: str, timeout: float = 2.0) -> bool:
    """Whether the server on `port` answers /v1/models with `model`."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=timeout) as response:
            listed = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return isinstance(listed, dict) and any(isinstance(m, dict) and m.get("id") == model for m in listed.get("data", []))


def running(state: Path) -> ServeProcess | None:
    """The service recorded in `state`, if it is alive and serving its model."""
    try:
        record = json.loads(_pid_file(state).read_text())
        process = ServeProcess(int(record["pid"]), int(record["port"]), str(record["model"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return process if alive(process.pid) and serves(process.port, process.model) else None


def free_port() -> int:
    """A port nothing listens on now (the OS's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(state: Path, bundle: Path) -> ServeProcess:
    """`icchat serve BUNDLE` in the background on a free port (or the one already serving it; one
    serving another bundle is stopped first)."""
    model = model_id(bundle)
    current = running(state)
    if current is not None and current.model == model:
        return current
    stop(state)
    state.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [sys.executable, "-m", "icchat", "serve", str(bundle.resolve()), "--port", str(port)]
    pid = spawn(command, state / "serve.log", lambda: serves(port, model), START_TIMEOUT_S,
                f"`icchat serve` (port {port})")
    _pid_file(state).write_text(json.dumps({"pid": pid, "port": port, "model": model}))
    return ServeProcess(pid, port, model)


def stop(state: Path) -> ServeProcess | None:
    """Stop the recorded service, and forget it. None if none was recorded."""
    pid_file = _pid_file(state)
    try:
        record = json.loads(pid_file.read_text())
        process = ServeProcess(int(record["pid"]), int(record["port"]), str(record["model"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    terminate(process.pid, STOP_TIMEOUT_S)
    pid_file.unlink(missing_ok=True)
    return process
