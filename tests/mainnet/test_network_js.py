"""web/network.mjs under Node's test runner (tests/mainnet/network.test.mjs)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).parent


def test_network_mjs():
    node = shutil.which("node")
    assert node, "node is needed for the page's JavaScript tests"
    done = subprocess.run([node, "--test", str(HERE / "network.test.mjs")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout and "# pass 8" in done.stdout
