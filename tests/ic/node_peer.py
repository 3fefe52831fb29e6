"""Run the official JS implementations as peers: one long-lived Node process per script."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from icchat.paths import NODE_MODULES, REPO

JS = Path(__file__).parent / "js"


def node_available() -> bool:
    return shutil.which("node") is not None and (NODE_MODULES / "@icp-sdk" / "core").is_dir()


class NodePeer:
    """A Node script that answers one JSON line per JSON request line."""

    def __init__(self, script: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            ["node", str(JS / script), *args], cwd=REPO, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"node peer died: {self.proc.stderr.read() if self.proc.stderr else ''}")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def run_node(script: str, request: Any, *args: str, timeout: float = 120) -> Any:
    """One-shot: send `request` as JSON on stdin, parse stdout as JSON."""
    proc = subprocess.run(["node", str(JS / script), *args], cwd=REPO, input=json.dumps(request),
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{script} failed: {proc.stderr}")
    return json.loads(proc.stdout)
