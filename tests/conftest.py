"""Shared pytest fixtures."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def node_test() -> Callable[[Path], str]:
    """Runs one of the page's JavaScript test files under Node's test runner; returns its TAP
    report after asserting that nothing failed."""
    node = shutil.which("node")
    assert node, "node is needed for the page's JavaScript tests"

    def run(path: Path) -> str:
        done = subprocess.run([node, "--test", str(path)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
        assert "# fail 0" in done.stdout
        return done.stdout

    return run
